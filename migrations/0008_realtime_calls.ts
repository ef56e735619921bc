import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// Voice calls made through the gateway: which Pool, account and key made each one, so Codex's join of the call's
// sideband websocket, on any instance, goes to the account that holds the call. Rows expire; expired ones are swept.
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE realtime_calls (
      call_id text PRIMARY KEY,
      pool_id text NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
      account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
      key_id text NOT NULL REFERENCES pool_keys (id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL
    )`
  yield* sql`CREATE INDEX realtime_calls_expires_idx ON realtime_calls (expires_at)`
})
