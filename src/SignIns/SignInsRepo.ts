import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Option, Schema } from "effect"

export const SignInStatus = Schema.Literal("pending", "exchanging", "done", "failed", "cancelled", "expired")

export const SignInRow = Schema.Struct({
  id: Schema.String,
  kind: Schema.Literal("device", "browser"),
  poolId: Schema.NullOr(Schema.String),
  reloginAccountId: Schema.NullOr(Schema.String),
  secretEnc: Schema.String,
  userCode: Schema.NullOr(Schema.String),
  intervalSeconds: Schema.Number,
  status: SignInStatus,
  accountId: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  expiresAt: Schema.DateFromSelf,
  expired: Schema.Boolean
})
export type SignInRow = typeof SignInRow.Type

const NewSignIn = Schema.Struct({
  id: Schema.String,
  kind: Schema.Literal("device", "browser"),
  poolId: Schema.NullOr(Schema.String),
  reloginAccountId: Schema.NullOr(Schema.String),
  stateHash: Schema.NullOr(Schema.String),
  secretEnc: Schema.String,
  userCode: Schema.NullOr(Schema.String),
  intervalSeconds: Schema.Number,
  actorKind: Schema.String,
  actorId: Schema.NullOr(Schema.String),
  expiresAt: Schema.DateFromSelf
})

const columns = (sql: SqlClient.SqlClient) =>
  sql`id, kind, pool_id, relogin_account_id, secret_enc, user_code, interval_seconds, status, account_id, error,
    expires_at, expires_at <= now() AS expired`

export class SignInsRepo extends Effect.Service<SignInsRepo>()("Gateway/SignInsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // Flows that ended a week ago go as a new one starts: the table holds what is in flight and a little history.
    const insert = SqlSchema.void({
      Request: NewSignIn,
      execute: (row) =>
        Effect.zipRight(
          sql`DELETE FROM sign_ins WHERE expires_at < now() - interval '7 days'`,
          sql`INSERT INTO sign_ins ${sql.insert(row)}`
        )
    })

    const find = SqlSchema.findOne({
      Request: Schema.String,
      Result: SignInRow,
      execute: (id) => sql`SELECT ${columns(sql)} FROM sign_ins WHERE id = ${id}`
    })

    const findByState = SqlSchema.findOne({
      Request: Schema.String,
      Result: SignInRow,
      execute: (hash) => sql`SELECT ${columns(sql)} FROM sign_ins WHERE state_hash = ${hash}`
    })

    // The one instance that exchanges the flow's code: pending → exchanging, before it expires.
    const claim = SqlSchema.findAll({
      Request: Schema.String,
      Result: Schema.Struct({ id: Schema.String }),
      execute: (id) =>
        sql`UPDATE sign_ins SET status = 'exchanging' WHERE id = ${id} AND status = 'pending' AND expires_at > now()
          RETURNING id`
    })

    const finish = SqlSchema.void({
      Request: Schema.Struct({
        id: Schema.String,
        status: Schema.Literal("done", "failed", "cancelled", "expired"),
        accountId: Schema.NullOr(Schema.String),
        error: Schema.NullOr(Schema.String)
      }),
      execute: (row) =>
        sql`UPDATE sign_ins SET status = ${row.status}, account_id = ${row.accountId}, error = ${row.error},
            finished_at = now()
          WHERE id = ${row.id} AND status IN ('pending', 'exchanging')`
    })

    const slowDown = SqlSchema.void({
      Request: Schema.String,
      execute: (id) => sql`UPDATE sign_ins SET interval_seconds = interval_seconds + 5 WHERE id = ${id}`
    })

    return {
      insert: (row: typeof NewSignIn.Type) => insert(row).pipe(Effect.orDie),
      find: (id: string) => find(id).pipe(Effect.map(Option.getOrNull), Effect.orDie),
      findByState: (hash: string) => findByState(hash).pipe(Effect.map(Option.getOrNull), Effect.orDie),
      claim: (id: string) => claim(id).pipe(Effect.map((rows) => rows.length > 0), Effect.orDie),
      finish: (row: Parameters<typeof finish>[0]) => finish(row).pipe(Effect.orDie),
      slowDown: (id: string) => slowDown(id).pipe(Effect.orDie)
    } as const
  })
}) {}
