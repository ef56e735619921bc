import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema, Struct } from "effect"
import { PoolKey } from "../Domain/Models.ts"

const Health = Schema.Struct({
  accountId: Schema.String,
  cooldownUntil: Schema.NullOr(Schema.DateFromSelf),
  cooldownReason: Schema.NullOr(Schema.String),
  consecutiveFailures: Schema.Number,
  circuitState: Schema.Literal("closed", "open", "half_open"),
  circuitOpenedAt: Schema.NullOr(Schema.DateFromSelf),
  lastErrorCode: Schema.NullOr(Schema.String),
  lastSuccessAt: Schema.NullOr(Schema.DateFromSelf),
  lastFailureAt: Schema.NullOr(Schema.DateFromSelf)
})
export type Health = typeof Health.Type

export const KeyDetail = Schema.Struct({
  ...Struct.omit(PoolKey.fields, "poolId"),
  requestsPerMinute: Schema.NullOr(Schema.Number),
  tokensPerDay: Schema.NullOr(Schema.Number),
  maxConcurrent: Schema.NullOr(Schema.Number),
  allowedModels: Schema.NullOr(Schema.Array(Schema.String)),
  requests24h: Schema.Number,
  tokens24h: Schema.Number,
  requestsTotal: Schema.Number
})
export type KeyDetail = typeof KeyDetail.Type

// Read-only views for the operator tools: account health, keys with limits and usage.
export class FleetRepo extends Effect.Service<FleetRepo>()("Gateway/Mcp/FleetRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const health = SqlSchema.findAll({
      Request: Schema.Void,
      Result: Health,
      execute: () =>
        sql`SELECT account_id, cooldown_until, cooldown_reason, consecutive_failures, circuit_state, circuit_opened_at,
          last_error_code, last_success_at, last_failure_at FROM account_health`
    })

    // bigint sums and counts come back as strings from both drivers; float8 keeps them numbers.
    const keys = SqlSchema.findAll({
      Request: Schema.NullOr(Schema.String),
      Result: KeyDetail,
      execute: (id) =>
        sql`SELECT k.id, p.slug AS pool_slug, k.name, k.status, k.expires_at, k.revoked_at, k.last_used_at, k.created_at,
            k.requests_per_minute, k.tokens_per_day::float8 AS tokens_per_day, k.max_concurrent, k.allowed_models,
            coalesce(u.requests_24h, 0)::float8 AS requests_24h, coalesce(u.tokens_24h, 0)::float8 AS tokens_24h,
            coalesce(u.requests_total, 0)::float8 AS requests_total
          FROM pool_keys k JOIN pools p ON p.id = k.pool_id
          LEFT JOIN LATERAL (
            SELECT count(*) FILTER (WHERE r.started_at > now() - interval '24 hours') AS requests_24h,
              sum(r.total_tokens) FILTER (WHERE r.started_at > now() - interval '24 hours') AS tokens_24h,
              count(*) AS requests_total
            FROM requests r WHERE r.key_id = k.id
          ) u ON true
          WHERE ${id}::text IS NULL OR k.id = ${id}
          ORDER BY p.slug, k.created_at, k.id`
    })

    return {
      health: health(undefined).pipe(Effect.orDie),
      keys: keys(null).pipe(Effect.orDie),
      key: (id: string) => keys(id).pipe(Effect.map((rows) => rows[0]), Effect.orDie)
    } as const
  })
}) {}
