import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// Redemptions of saved usage-limit resets. A row is claimed before upstream is asked: its primary key makes a request
// id redeem at most once (scope: the Pool for Codex's own calls, "operator" for the CLI and MCP), and the partial
// unique index lets one redemption per account be in flight at a time, across instances. `upstream_request_id` is the
// id upstream is given, ours, so that asking again after a lost answer cannot redeem twice.
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE reset_redemptions (
      scope text NOT NULL,
      request_id text NOT NULL,
      upstream_request_id text NOT NULL UNIQUE,
      account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
      status text NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
      code text,
      windows_reset integer,
      error_code text,
      actor_kind text NOT NULL,
      actor_id text,
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      PRIMARY KEY (scope, request_id)
    )`
  yield* sql`CREATE UNIQUE INDEX reset_redemptions_in_flight ON reset_redemptions (account_id) WHERE status = 'pending'`
  yield* sql`CREATE INDEX reset_redemptions_started_idx ON reset_redemptions (started_at)`
  yield* sql`ALTER TABLE pools ADD COLUMN auto_redeem_resets boolean NOT NULL DEFAULT false`
  // Codex's own redemption call, answered for the Pool, is made by a Pool key: audited as such.
  yield* sql`ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_kind_check`
  yield* sql`ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_kind_check
    CHECK (actor_kind IN ('cli', 'operator_token', 'system', 'pool_key'))`
})
