import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// Gateway instances that are up, by heartbeat, and the instance each request row belongs to: a row left in progress
// by an instance that stopped beating (killed, crashed) is closed by the others, so it holds no key's concurrency.
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE instances (
      id text PRIMARY KEY,
      started_at timestamptz NOT NULL DEFAULT now(),
      heartbeat_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`ALTER TABLE requests ADD COLUMN instance_id text`
})
