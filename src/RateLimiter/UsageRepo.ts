import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

const KeyUsage = Schema.Struct({
  lastMinute: Schema.NumberFromString,
  inFlight: Schema.NumberFromString,
  tokensToday: Schema.NumberFromString,
  oldestInMinute: Schema.NullOr(Schema.DateFromSelf)
})
export type KeyUsage = typeof KeyUsage.Type

export class UsageRepo extends Effect.Service<UsageRepo>()("Gateway/RateLimiter/UsageRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // Read from the request rows every instance writes, so the limits hold across instances. In-flight rows older
    // than a day are a crashed instance's leftovers, not streams.
    const usage = SqlSchema.single({
      Request: Schema.String,
      Result: KeyUsage,
      execute: (keyId) =>
        sql`SELECT
            count(*) FILTER (WHERE started_at > now() - interval '1 minute') AS last_minute,
            count(*) FILTER (WHERE status = 'in_progress') AS in_flight,
            coalesce(sum(total_tokens) FILTER (WHERE started_at >= date_trunc('day', now())), 0) AS tokens_today,
            min(started_at) FILTER (WHERE started_at > now() - interval '1 minute') AS oldest_in_minute
          FROM requests
          WHERE key_id = ${keyId} AND started_at >= least(date_trunc('day', now()), now() - interval '1 day')`
    })

    const lock = SqlSchema.void({
      Request: Schema.String,
      execute: (keyId) => sql`SELECT pg_advisory_xact_lock(hashtextextended(${keyId}, 0))`
    })

    // One key's admissions, on every instance, one at a time: the lock is taken first, so the statements after it
    // see the rows of the admission before. Its outcome leaves the transaction as a value: a refusal wrote nothing.
    const exclusive = <A, E>(keyId: string, effect: Effect.Effect<A, E>) =>
      Effect.zipRight(lock(keyId), Effect.either(effect)).pipe(sql.withTransaction, Effect.orDie, Effect.flatten)

    return { usage: (keyId: string) => usage(keyId).pipe(Effect.orDie), exclusive } as const
  })
}) {}
