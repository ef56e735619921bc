import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// Sign-ins of accounts through the gateway (device code, browser PKCE), in flight or ended. Any instance may finish a
// flow another started: the state is kept as its hash, the PKCE verifier and the device code sealed; a conditional
// update from 'pending' to 'exchanging' lets exactly one of them exchange the code.
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE sign_ins (
      id text PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('device', 'browser')),
      pool_id text REFERENCES pools (id) ON DELETE CASCADE,
      relogin_account_id text REFERENCES accounts (id) ON DELETE CASCADE,
      state_hash text UNIQUE,
      secret_enc text NOT NULL,
      user_code text,
      interval_seconds integer NOT NULL DEFAULT 5,
      status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'exchanging', 'done', 'failed', 'cancelled', 'expired')),
      account_id text REFERENCES accounts (id) ON DELETE SET NULL,
      error text,
      actor_kind text NOT NULL,
      actor_id text,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      finished_at timestamptz,
      CHECK (pool_id IS NOT NULL OR relogin_account_id IS NOT NULL)
    )`
  yield* sql`CREATE INDEX sign_ins_expires_idx ON sign_ins (expires_at)`
})
