import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { PoolAuth } from "../PoolAuth.ts"

const Totals = Schema.Struct({
  requests: Schema.NumberFromString,
  inputTokens: Schema.NumberFromString,
  outputTokens: Schema.NumberFromString,
  totalTokens: Schema.NumberFromString
})

const totals = (row: typeof Totals.Type) => ({
  requests: row.requests,
  input_tokens: row.inputTokens,
  output_tokens: row.outputTokens,
  total_tokens: row.totalTokens
})

// GET /v1/usage: the calling key's own requests and tokens — since midnight UTC and over the last 24 hours, on every
// surface — and its limits. Nothing of other keys, accounts or the Pool.
export class KeyUsage extends Effect.Service<KeyUsage>()("Gateway/KeyUsage", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const auth = yield* PoolAuth

    const sums = SqlSchema.findAll({
      Request: Schema.String,
      Result: Schema.Struct({ today: Totals, last24h: Totals }),
      execute: (keyId) =>
        sql`WITH recent AS (
            SELECT started_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS today,
              coalesce(input_tokens, 0) AS input_tokens, coalesce(output_tokens, 0) AS output_tokens,
              coalesce(total_tokens, 0) AS total_tokens
            FROM requests WHERE key_id = ${keyId} AND started_at > now() - interval '1 day')
          SELECT
            json_build_object('requests', count(*) FILTER (WHERE today)::text,
              'inputTokens', coalesce(sum(input_tokens) FILTER (WHERE today), 0)::text,
              'outputTokens', coalesce(sum(output_tokens) FILTER (WHERE today), 0)::text,
              'totalTokens', coalesce(sum(total_tokens) FILTER (WHERE today), 0)::text) AS today,
            json_build_object('requests', count(*)::text,
              'inputTokens', coalesce(sum(input_tokens), 0)::text,
              'outputTokens', coalesce(sum(output_tokens), 0)::text,
              'totalTokens', coalesce(sum(total_tokens), 0)::text) AS last24h
          FROM recent`
    })

    const answer = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const key = yield* auth.authenticateV1(request.headers)
      const [row] = yield* sums(key.keyId).pipe(Effect.orDie)
      const empty = { requests: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0 }
      return HttpServerResponse.unsafeJson({
        object: "usage",
        key_id: key.keyId,
        pool: key.poolSlug,
        today: totals(row?.today ?? empty),
        last_24_hours: totals(row?.last24h ?? empty),
        limits: {
          requests_per_minute: key.limits.requestsPerMinute,
          tokens_per_day: key.limits.tokensPerDay,
          max_concurrent: key.limits.maxConcurrent,
          allowed_models: key.limits.allowedModels
        }
      }, { headers: { "cache-control": "no-store" } })
    })

    return { answer } as const
  }),
  dependencies: [PoolAuth.Default]
}) {}
