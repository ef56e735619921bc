import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

const Binding = Schema.Struct({
  poolId: Schema.String,
  kind: Schema.Literal("hard", "soft"),
  keyHash: Schema.String,
  accountId: Schema.String,
  ttlSeconds: Schema.Number
})
export type Binding = typeof Binding.Type

export interface SessionKey {
  readonly poolId: string
  readonly kind: "hard" | "soft"
  readonly keyHash: string
}

const Found = Schema.Struct({
  index: Schema.Number,
  accountId: Schema.String,
  expiresAt: Schema.DateFromSelf
})

export class SessionsRepo extends Effect.Service<SessionsRepo>()("Gateway/SessionsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const bind = SqlSchema.void({
      Request: Schema.Array(Binding),
      execute: (bindings) =>
        sql`INSERT INTO sessions (pool_id, kind, key_hash, account_id, expires_at)
          SELECT b.pool_id, b.kind, b.key_hash, b.account_id, now() + make_interval(secs => b.ttl_seconds)
          FROM json_to_recordset(${
          JSON.stringify(bindings.map((b) => ({
            pool_id: b.poolId,
            kind: b.kind,
            key_hash: b.keyHash,
            account_id: b.accountId,
            ttl_seconds: b.ttlSeconds
          })))
        }::json) AS b(pool_id text, kind text, key_hash text, account_id text, ttl_seconds double precision)
          ON CONFLICT (pool_id, kind, key_hash) DO UPDATE SET
            account_id = excluded.account_id, expires_at = excluded.expires_at, last_seen_at = now()`
    })

    // The live bindings of several keys at once, by their index in `keys`.
    const find = SqlSchema.findAll({
      Request: Schema.Array(Schema.Struct({ poolId: Schema.String, kind: Schema.String, keyHash: Schema.String })),
      Result: Found,
      execute: (keys) =>
        sql`SELECT k.index, s.account_id, s.expires_at
          FROM json_to_recordset(${
          JSON.stringify(
            keys.map((key, index) => ({ index, pool_id: key.poolId, kind: key.kind, key_hash: key.keyHash }))
          )
        }::json) AS k(index int, pool_id text, kind text, key_hash text)
            JOIN sessions s ON s.pool_id = k.pool_id AND s.kind = k.kind AND s.key_hash = k.key_hash
          WHERE s.expires_at > now()`
    })

    return {
      bind: (bindings: ReadonlyArray<Binding>) => bind(bindings).pipe(Effect.orDie),
      find: (keys: ReadonlyArray<SessionKey>) => find(keys).pipe(Effect.orDie)
    } as const
  })
}) {}
