import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE pools (
      id text PRIMARY KEY,
      slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
      name text NOT NULL,
      strategy text NOT NULL DEFAULT 'least_recently_used'
        CHECK (strategy IN ('quota_first', 'round_robin', 'least_recently_used', 'rendezvous')),
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`
    CREATE TABLE accounts (
      id text PRIMARY KEY,
      chatgpt_account_id text NOT NULL,
      chatgpt_user_id text NOT NULL DEFAULT '',
      email text,
      plan text,
      fedramp boolean NOT NULL DEFAULT false,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'reauth_required')),
      access_token_enc text NOT NULL,
      refresh_token_enc text NOT NULL,
      id_token_enc text NOT NULL,
      access_expires_at timestamptz,
      last_refresh_at timestamptz,
      credentials_version integer NOT NULL DEFAULT 1,
      last_used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (chatgpt_account_id, chatgpt_user_id)
    )`
  yield* sql`
    CREATE TABLE pool_accounts (
      pool_id text NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
      account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
      added_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (pool_id, account_id)
    )`
  yield* sql`CREATE INDEX pool_accounts_account_idx ON pool_accounts (account_id)`
  yield* sql`
    CREATE TABLE pool_keys (
      id text PRIMARY KEY,
      pool_id text NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
      name text NOT NULL,
      secret_hash bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
      expires_at timestamptz,
      revoked_at timestamptz,
      last_used_at timestamptz,
      requests_per_minute integer CHECK (requests_per_minute > 0),
      tokens_per_day bigint CHECK (tokens_per_day > 0),
      max_concurrent integer CHECK (max_concurrent > 0),
      allowed_models text[],
      created_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`CREATE INDEX pool_keys_pool_idx ON pool_keys (pool_id)`
  yield* sql`
    CREATE TABLE operator_tokens (
      id text PRIMARY KEY,
      name text NOT NULL,
      secret_hash bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
      scope text NOT NULL CHECK (scope IN ('read', 'admin')),
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
      expires_at timestamptz,
      revoked_at timestamptz,
      last_used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`
    CREATE TABLE account_quota (
      account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
      limit_name text NOT NULL DEFAULT 'codex',
      window_kind text NOT NULL CHECK (window_kind IN ('primary', 'secondary')),
      used_percent double precision NOT NULL CHECK (used_percent >= 0),
      window_minutes integer,
      resets_at timestamptz,
      observed_at timestamptz NOT NULL,
      source text NOT NULL CHECK (source IN ('headers', 'event', 'error', 'poll')),
      PRIMARY KEY (account_id, limit_name, window_kind)
    )`
  yield* sql`
    CREATE TABLE account_health (
      account_id text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
      cooldown_until timestamptz,
      cooldown_reason text,
      consecutive_failures integer NOT NULL DEFAULT 0,
      circuit_state text NOT NULL DEFAULT 'closed' CHECK (circuit_state IN ('closed', 'open', 'half_open')),
      circuit_opened_at timestamptz,
      last_error_code text,
      last_success_at timestamptz,
      last_failure_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`
    CREATE TABLE sessions (
      pool_id text NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN ('hard', 'soft')),
      key_hash text NOT NULL,
      account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (pool_id, kind, key_hash)
    )`
  yield* sql`CREATE INDEX sessions_expires_idx ON sessions (expires_at)`
  yield* sql`CREATE INDEX sessions_account_idx ON sessions (account_id)`
  yield* sql`
    CREATE TABLE requests (
      id text PRIMARY KEY,
      pool_id text NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
      key_id text REFERENCES pool_keys (id) ON DELETE SET NULL,
      account_id text REFERENCES accounts (id) ON DELETE SET NULL,
      route text NOT NULL,
      transport text NOT NULL CHECK (transport IN ('http', 'sse', 'websocket')),
      model text,
      status text NOT NULL DEFAULT 'in_progress'
        CHECK (status IN ('in_progress', 'succeeded', 'failed', 'cancelled')),
      http_status integer,
      error_code text,
      attempts integer NOT NULL DEFAULT 0,
      started_at timestamptz NOT NULL,
      first_byte_at timestamptz,
      ended_at timestamptz,
      input_tokens bigint,
      cached_input_tokens bigint,
      output_tokens bigint,
      reasoning_tokens bigint,
      total_tokens bigint,
      upstream_request_id text
    )`
  yield* sql`CREATE INDEX requests_pool_started_idx ON requests (pool_id, started_at DESC)`
  yield* sql`CREATE INDEX requests_key_started_idx ON requests (key_id, started_at DESC)`
  yield* sql`CREATE INDEX requests_account_started_idx ON requests (account_id, started_at DESC)`
  yield* sql`CREATE INDEX requests_in_progress_idx ON requests (started_at) WHERE status = 'in_progress'`
  yield* sql`
    CREATE TABLE request_attempts (
      request_id text NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
      attempt integer NOT NULL CHECK (attempt > 0),
      account_id text REFERENCES accounts (id) ON DELETE SET NULL,
      started_at timestamptz NOT NULL,
      ended_at timestamptz,
      http_status integer,
      error_code text,
      outcome text NOT NULL DEFAULT 'in_progress'
        CHECK (outcome IN ('in_progress', 'succeeded', 'failed', 'cancelled', 'retried')),
      PRIMARY KEY (request_id, attempt)
    )`
  yield* sql`CREATE INDEX request_attempts_account_idx ON request_attempts (account_id, started_at DESC)`
  yield* sql`
    CREATE TABLE audit_log (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      actor_kind text NOT NULL CHECK (actor_kind IN ('cli', 'operator_token', 'system')),
      actor_id text,
      action text NOT NULL,
      target_kind text NOT NULL,
      target_id text,
      details jsonb NOT NULL DEFAULT '{}'::jsonb
    )`
  yield* sql`CREATE INDEX audit_log_at_idx ON audit_log (at DESC)`
})
