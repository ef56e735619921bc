import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { PoolKey } from "../Domain/Models.ts"

const NewKey = Schema.Struct({
  id: Schema.String,
  poolId: Schema.String,
  name: Schema.String,
  secretHash: Schema.Uint8ArrayFromSelf,
  expiresAt: Schema.NullOr(Schema.DateFromSelf),
  requestsPerMinute: Schema.NullOr(Schema.Number),
  tokensPerDay: Schema.NullOr(Schema.Number),
  maxConcurrent: Schema.NullOr(Schema.Number),
  allowedModels: Schema.NullOr(Schema.Array(Schema.String))
})

const NewLimits = NewKey.pipe(Schema.pick("id", "requestsPerMinute", "tokensPerDay", "maxConcurrent", "allowedModels"))

export const KeyLimits = Schema.Struct({
  requestsPerMinute: Schema.NullOr(Schema.Number),
  tokensPerDay: Schema.NullOr(Schema.NumberFromString),
  maxConcurrent: Schema.NullOr(Schema.Number),
  allowedModels: Schema.NullOr(Schema.Array(Schema.String))
})
export type KeyLimits = typeof KeyLimits.Type

export const KeyForAuth = Schema.Struct({
  ...PoolKey.fields,
  ...KeyLimits.fields,
  secretHash: Schema.Uint8ArrayFromSelf,
  poolStatus: Schema.Literal("active", "disabled"),
  poolV1Enabled: Schema.Boolean
})
export type KeyForAuth = typeof KeyForAuth.Type

export class PoolKeysRepo extends Effect.Service<PoolKeysRepo>()("Gateway/PoolKeysRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const select = sql`SELECT k.*, p.slug AS pool_slug, p.status AS pool_status, p.v1_enabled AS pool_v1_enabled
        FROM pool_keys k JOIN pools p ON p.id = k.pool_id`

    const insert = SqlSchema.void({
      Request: NewKey,
      execute: (key) => sql`INSERT INTO pool_keys ${sql.insert(key)}`
    })
    const findById = SqlSchema.findOne({
      Request: Schema.String,
      Result: KeyForAuth,
      execute: (id) => sql`${select} WHERE k.id = ${id}`
    })
    const list = SqlSchema.findAll({
      Request: Schema.Void,
      Result: PoolKey,
      execute: () => sql`${select} ORDER BY p.slug, k.created_at, k.id`
    })
    const revoke = SqlSchema.findOne({
      Request: Schema.String,
      Result: Schema.Struct({ id: Schema.String }),
      execute: (id) =>
        sql`UPDATE pool_keys SET status = 'revoked', revoked_at = coalesce(revoked_at, now())
          WHERE id = ${id} RETURNING id`
    })
    // Models go in as JSON so one statement works on PostgreSQL and PGlite alike.
    const setLimits = SqlSchema.void({
      Request: NewLimits,
      execute: (key) =>
        sql`UPDATE pool_keys SET requests_per_minute = ${key.requestsPerMinute}, tokens_per_day = ${key.tokensPerDay},
            max_concurrent = ${key.maxConcurrent},
            allowed_models = CASE WHEN ${key.allowedModels === null}::boolean THEN NULL
              ELSE array(SELECT jsonb_array_elements_text(${JSON.stringify(key.allowedModels ?? [])}::jsonb)) END
          WHERE id = ${key.id}`
    })
    // Held to the end of the transaction: two limit changes to one key apply one after the other.
    const lock = SqlSchema.void({
      Request: Schema.String,
      execute: (id) => sql`SELECT id FROM pool_keys WHERE id = ${id} FOR UPDATE`
    })
    const touch = SqlSchema.void({
      Request: Schema.String,
      execute: (id) => sql`UPDATE pool_keys SET last_used_at = now() WHERE id = ${id}`
    })

    return {
      insert: (key: typeof NewKey.Type) => insert(key).pipe(Effect.orDie),
      findById: (id: string) => findById(id).pipe(Effect.orDie),
      list: list(undefined).pipe(Effect.orDie),
      revoke: (id: string) => revoke(id).pipe(Effect.orDie),
      setLimits: (key: typeof NewLimits.Type) => setLimits(key).pipe(Effect.orDie),
      lock: (id: string) => lock(id).pipe(Effect.orDie),
      touch: (id: string) => touch(id).pipe(Effect.orDie)
    } as const
  })
}) {}
