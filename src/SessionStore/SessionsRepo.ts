import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

const Kind = Schema.Literal("hard", "soft")

const Lookup = Schema.Struct({
  poolId: Schema.String,
  hard: Schema.NullOr(Schema.String),
  soft: Schema.NullOr(Schema.String)
})

const Binding = Schema.Struct({
  poolId: Schema.String,
  kind: Kind,
  keyHash: Schema.String,
  accountId: Schema.String,
  ttlSeconds: Schema.Number
})
export type Binding = typeof Binding.Type

export class SessionsRepo extends Effect.Service<SessionsRepo>()("Gateway/SessionsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const lookup = SqlSchema.findAll({
      Request: Lookup,
      Result: Schema.Struct({ accountId: Schema.String, kind: Kind }),
      execute: ({ hard, poolId, soft }) =>
        sql`SELECT account_id, kind FROM sessions
          WHERE pool_id = ${poolId} AND expires_at > now()
            AND ((kind = 'hard' AND key_hash = ${hard}) OR (kind = 'soft' AND key_hash = ${soft}))
          ORDER BY kind`
    })

    const bind = SqlSchema.void({
      Request: Binding,
      execute: (binding) =>
        sql`INSERT INTO sessions (pool_id, kind, key_hash, account_id, expires_at)
          VALUES (${binding.poolId}, ${binding.kind}, ${binding.keyHash}, ${binding.accountId},
            now() + make_interval(secs => ${binding.ttlSeconds}))
          ON CONFLICT (pool_id, kind, key_hash) DO UPDATE SET
            account_id = excluded.account_id, expires_at = excluded.expires_at, last_seen_at = now()`
    })

    return {
      lookup: (request: typeof Lookup.Type) => lookup(request).pipe(Effect.orDie),
      bind: (binding: Binding) => bind(binding).pipe(Effect.orDie)
    } as const
  })
}) {}
