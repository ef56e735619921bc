import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// Dashboard sign-ins: the browser holds a random session id, the table only its SHA-256, so neither a leaked row nor
// a leaked cookie is the operator token. Also the refresh lease on accounts: which instance is redeeming an account's
// refresh token, and until when, so no row lock is held across the auth server call.
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE dashboard_sessions (
      id_hash bytea PRIMARY KEY CHECK (octet_length(id_hash) = 32),
      operator_token_id text NOT NULL REFERENCES operator_tokens (id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL
    )`
  yield* sql`CREATE INDEX dashboard_sessions_token_idx ON dashboard_sessions (operator_token_id, created_at)`
  yield* sql`CREATE INDEX dashboard_sessions_expires_idx ON dashboard_sessions (expires_at)`
  yield* sql`ALTER TABLE accounts ADD COLUMN refresh_lease_id text, ADD COLUMN refresh_lease_until timestamptz`
})
