import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// When an instance last asked upstream for an account's usage: the claim that keeps instances from polling the same
// account twice in one interval.
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE account_health ADD COLUMN usage_polled_at timestamptz`
})
