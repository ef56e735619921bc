import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { OperatorScope, OperatorToken } from "../Domain/Models.ts"

const NewToken = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  scope: OperatorScope,
  secretHash: Schema.Uint8ArrayFromSelf,
  expiresAt: Schema.NullOr(Schema.DateFromSelf)
})

export const TokenForAuth = Schema.Struct({ ...OperatorToken.fields, secretHash: Schema.Uint8ArrayFromSelf })
export type TokenForAuth = typeof TokenForAuth.Type

export class OperatorTokensRepo extends Effect.Service<OperatorTokensRepo>()("Gateway/OperatorTokensRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insert = SqlSchema.void({
      Request: NewToken,
      execute: (token) => sql`INSERT INTO operator_tokens ${sql.insert(token)}`
    })
    const findById = SqlSchema.findOne({
      Request: Schema.String,
      Result: TokenForAuth,
      execute: (id) => sql`SELECT * FROM operator_tokens WHERE id = ${id}`
    })
    const list = SqlSchema.findAll({
      Request: Schema.Void,
      Result: OperatorToken,
      execute: () => sql`SELECT * FROM operator_tokens ORDER BY created_at, id`
    })
    const revoke = SqlSchema.findOne({
      Request: Schema.String,
      Result: Schema.Struct({ id: Schema.String }),
      execute: (id) =>
        sql`UPDATE operator_tokens SET status = 'revoked', revoked_at = coalesce(revoked_at, now())
          WHERE id = ${id} RETURNING id`
    })
    const touch = SqlSchema.void({
      Request: Schema.String,
      execute: (id) => sql`UPDATE operator_tokens SET last_used_at = now() WHERE id = ${id}`
    })

    return {
      insert: (token: typeof NewToken.Type) => insert(token).pipe(Effect.orDie),
      findById: (id: string) => findById(id).pipe(Effect.orDie),
      list: list(undefined).pipe(Effect.orDie),
      revoke: (id: string) => revoke(id).pipe(Effect.orDie),
      touch: (id: string) => touch(id).pipe(Effect.orDie)
    } as const
  })
}) {}
