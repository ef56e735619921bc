import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// Each account's saved usage-limit resets ("reset credits"), as upstream last reported them, and when.
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE account_health ADD COLUMN reset_credits integer, ADD COLUMN reset_credits_at timestamptz`
})
