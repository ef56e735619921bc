import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

const Nullable = Schema.NullOr(Schema.String)

export const RequestFilter = Schema.Struct({
  pool: Nullable,
  keyId: Nullable,
  accountId: Nullable,
  model: Nullable,
  status: Nullable,
  since: Schema.NullOr(Schema.DateFromSelf),
  until: Schema.NullOr(Schema.DateFromSelf),
  limit: Schema.Number,
  offset: Schema.Number
})

export const RequestRow = Schema.Struct({
  id: Schema.String,
  poolSlug: Schema.String,
  keyId: Nullable,
  accountId: Nullable,
  route: Schema.String,
  transport: Schema.String,
  model: Nullable,
  status: Schema.String,
  httpStatus: Schema.NullOr(Schema.Number),
  errorCode: Nullable,
  attempts: Schema.Number,
  startedAt: Schema.DateFromSelf,
  endedAt: Schema.NullOr(Schema.DateFromSelf),
  inputTokens: Schema.NullOr(Schema.Number),
  outputTokens: Schema.NullOr(Schema.Number),
  totalTokens: Schema.NullOr(Schema.Number)
})

export const SeriesRow = Schema.Struct({
  pool: Schema.String,
  bucket: Schema.DateFromSelf,
  requests: Schema.Number,
  tokens: Schema.Number
})

export const UsageGroup = Schema.Literal("pool", "key", "account", "model")

export const UsageRow = Schema.Struct({
  group: Nullable,
  requests: Schema.Number,
  succeeded: Schema.Number,
  failed: Schema.Number,
  inputTokens: Schema.Number,
  cachedInputTokens: Schema.Number,
  outputTokens: Schema.Number,
  totalTokens: Schema.Number
})

export const SessionCount = Schema.Struct({
  accountId: Schema.String,
  poolSlug: Schema.String,
  hard: Schema.Number,
  soft: Schema.Number,
  total: Schema.Number
})

export const Counts = Schema.Struct({
  pools: Schema.Number,
  accountsActive: Schema.Number,
  accountsPaused: Schema.Number,
  accountsReauthRequired: Schema.Number,
  accountsCoolingDown: Schema.Number,
  keysActive: Schema.Number,
  requestsInProgress: Schema.Number,
  requestsLastHour: Schema.Number,
  activeSessions: Schema.Number
})

// The request log, usage totals, live session counts and fleet counts operators ask for.
export class ActivityRepo extends Effect.Service<ActivityRepo>()("Gateway/ActivityRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const requests = SqlSchema.findAll({
      Request: RequestFilter,
      Result: RequestRow,
      execute: (f) =>
        sql`SELECT r.id, p.slug AS pool_slug, r.key_id, r.account_id, r.route, r.transport, r.model, r.status,
            r.http_status, r.error_code, r.attempts, r.started_at, r.ended_at, r.input_tokens::float8 AS input_tokens,
            r.output_tokens::float8 AS output_tokens, r.total_tokens::float8 AS total_tokens
          FROM requests r JOIN pools p ON p.id = r.pool_id
          WHERE (${f.pool}::text IS NULL OR p.slug = ${f.pool} OR p.id = ${f.pool})
            AND (${f.keyId}::text IS NULL OR r.key_id = ${f.keyId})
            AND (${f.accountId}::text IS NULL OR r.account_id = ${f.accountId})
            AND (${f.model}::text IS NULL OR r.model = ${f.model})
            AND (${f.status}::text IS NULL OR r.status = ${f.status})
            AND (${f.since}::timestamptz IS NULL OR r.started_at >= ${f.since})
            AND (${f.until}::timestamptz IS NULL OR r.started_at < ${f.until})
          ORDER BY r.started_at DESC, r.id DESC
          LIMIT ${f.limit} OFFSET ${f.offset}`
    })

    const usage = SqlSchema.findAll({
      Request: Schema.Struct({ by: UsageGroup, since: Schema.DateFromSelf, until: Schema.DateFromSelf }),
      Result: UsageRow,
      execute: ({ by, since, until }) =>
        sql`SELECT CASE ${by}::text WHEN 'pool' THEN p.slug WHEN 'key' THEN r.key_id
              WHEN 'account' THEN r.account_id ELSE r.model END AS "group",
            count(*)::float8 AS requests,
            count(*) FILTER (WHERE r.status = 'succeeded')::float8 AS succeeded,
            count(*) FILTER (WHERE r.status = 'failed')::float8 AS failed,
            coalesce(sum(r.input_tokens), 0)::float8 AS input_tokens,
            coalesce(sum(r.cached_input_tokens), 0)::float8 AS cached_input_tokens,
            coalesce(sum(r.output_tokens), 0)::float8 AS output_tokens,
            coalesce(sum(r.total_tokens), 0)::float8 AS total_tokens
          FROM requests r JOIN pools p ON p.id = r.pool_id
          WHERE r.started_at >= ${since} AND r.started_at < ${until}
          GROUP BY 1 ORDER BY requests DESC, 1`
    })

    // Requests and tokens per Pool per hour (or day) since `since`: a chart's bars. One pass over the window's rows,
    // by the (pool_id, started_at) index.
    const series = SqlSchema.findAll({
      Request: Schema.Struct({ bucket: Schema.Literal("hour", "day"), since: Schema.DateFromSelf }),
      Result: SeriesRow,
      execute: ({ bucket, since }) =>
        sql`SELECT p.slug AS pool, date_trunc(${bucket}, r.started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket,
            count(*)::float8 AS requests, coalesce(sum(r.total_tokens), 0)::float8 AS tokens
          FROM requests r JOIN pools p ON p.id = r.pool_id
          WHERE r.started_at >= ${since}
          GROUP BY 1, 2 ORDER BY 1, 2`
    })

    const errors = SqlSchema.findAll({
      Request: Schema.DateFromSelf,
      Result: Schema.Struct({ code: Schema.String, requests: Schema.Number }),
      execute: (since) =>
        sql`SELECT coalesce(error_code, 'unknown') AS code, count(*)::float8 AS requests
          FROM requests WHERE started_at >= ${since} AND status = 'failed'
          GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20`
    })

    const sessions = SqlSchema.findAll({
      Request: Nullable,
      Result: SessionCount,
      execute: (pool) =>
        sql`SELECT s.account_id, p.slug AS pool_slug,
            count(*) FILTER (WHERE s.kind = 'hard')::float8 AS hard,
            count(*) FILTER (WHERE s.kind = 'soft')::float8 AS soft, count(*)::float8 AS total
          FROM sessions s JOIN pools p ON p.id = s.pool_id
          WHERE s.expires_at > now() AND (${pool}::text IS NULL OR p.slug = ${pool} OR p.id = ${pool})
          GROUP BY s.account_id, p.slug ORDER BY total DESC, s.account_id`
    })

    // bigint counts come back as strings from both drivers; float8 keeps them numbers.
    const counts = SqlSchema.single({
      Request: Schema.Void,
      Result: Counts,
      execute: () =>
        sql`SELECT
          (SELECT count(*) FROM pools)::float8 AS pools,
          (SELECT count(*) FROM accounts WHERE status = 'active')::float8 AS accounts_active,
          (SELECT count(*) FROM accounts WHERE status = 'paused')::float8 AS accounts_paused,
          (SELECT count(*) FROM accounts WHERE status = 'reauth_required')::float8 AS accounts_reauth_required,
          (SELECT count(*) FROM account_health WHERE cooldown_until > now())::float8 AS accounts_cooling_down,
          (SELECT count(*) FROM pool_keys WHERE status = 'active')::float8 AS keys_active,
          (SELECT count(*) FROM requests WHERE status = 'in_progress')::float8 AS requests_in_progress,
          (SELECT count(*) FROM requests WHERE started_at > now() - interval '1 hour')::float8 AS requests_last_hour,
          (SELECT count(*) FROM sessions WHERE expires_at > now())::float8 AS active_sessions`
    })

    return {
      counts: counts(undefined).pipe(Effect.orDie),
      requests: (filter: typeof RequestFilter.Type) => requests(filter).pipe(Effect.orDie),
      usage: (request: { by: typeof UsageGroup.Type; since: Date; until: Date }) => usage(request).pipe(Effect.orDie),
      sessions: (pool: string | null) => sessions(pool).pipe(Effect.orDie),
      series: (bucket: "hour" | "day", since: Date) => series({ bucket, since }).pipe(Effect.orDie),
      errors: (since: Date) => errors(since).pipe(Effect.orDie)
    } as const
  })
}) {}
