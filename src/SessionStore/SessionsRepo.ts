import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

// A session key's account, for `ttlSeconds` from when it is written (in the request journal).
export interface Binding {
  readonly poolId: string
  readonly kind: "hard" | "soft"
  readonly keyHash: string
  readonly accountId: string
  readonly ttlSeconds: number
}

export interface SessionKey {
  readonly poolId: string
  readonly kind: "hard" | "soft"
  readonly keyHash: string
}

// One string per session key: what the in-memory cache and a batch's deduplication key on.
export const sessionKeyOf = (key: SessionKey) => `${key.poolId} ${key.kind} ${key.keyHash}`

const Found = Schema.Struct({
  index: Schema.Number,
  accountId: Schema.String,
  expiresAt: Schema.DateFromSelf
})

export class SessionsRepo extends Effect.Service<SessionsRepo>()("Gateway/SessionsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

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
      find: (keys: ReadonlyArray<SessionKey>) => find(keys).pipe(Effect.orDie)
    } as const
  })
}) {}
