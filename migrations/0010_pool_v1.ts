import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// A Pool's /v1 (the OpenAI-compatible surface for other tools) can be turned off; it is on unless turned off.
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE pools ADD COLUMN v1_enabled boolean NOT NULL DEFAULT true`
})
