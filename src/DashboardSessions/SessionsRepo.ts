import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { OperatorScope } from "../Domain/Models.ts"

const NewSession = Schema.Struct({
  idHash: Schema.Uint8ArrayFromSelf,
  operatorTokenId: Schema.String,
  lifetimeSeconds: Schema.Number,
  idleSeconds: Schema.Number,
  perToken: Schema.Number
})

const Lookup = Schema.Struct({ idHash: Schema.Uint8ArrayFromSelf, idleSeconds: Schema.Number })

const Live = Schema.Struct({ operatorTokenId: Schema.String, scope: OperatorScope, lastSeenAt: Schema.DateFromSelf })

export class SessionsRepo extends Effect.Service<SessionsRepo>()("Gateway/DashboardSessions/SessionsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // Sessions past their expiry or idle too long go first, then the new one is in, then the token's oldest beyond
    // its cap go: the table holds at most `perToken` rows per operator token.
    const sweep = SqlSchema.void({
      Request: Schema.Number,
      execute: (idleSeconds) =>
        sql`DELETE FROM dashboard_sessions
          WHERE expires_at <= now() OR last_seen_at <= now() - make_interval(secs => ${idleSeconds})`
    })

    const insert = SqlSchema.void({
      Request: NewSession,
      execute: (row) =>
        sql`INSERT INTO dashboard_sessions (id_hash, operator_token_id, expires_at)
          VALUES (${row.idHash}, ${row.operatorTokenId}, now() + make_interval(secs => ${row.lifetimeSeconds}))`
    })

    const evict = SqlSchema.void({
      Request: NewSession,
      execute: (row) =>
        sql`DELETE FROM dashboard_sessions WHERE id_hash IN (
            SELECT id_hash FROM dashboard_sessions WHERE operator_token_id = ${row.operatorTokenId}
            ORDER BY created_at DESC, id_hash OFFSET ${row.perToken})`
    })

    // A session is only as good as its operator token, checked on every use: revoked or expired, it ends here.
    const find = SqlSchema.findOne({
      Request: Lookup,
      Result: Live,
      execute: ({ idHash, idleSeconds }) =>
        sql`SELECT s.operator_token_id, t.scope, s.last_seen_at FROM dashboard_sessions s
          JOIN operator_tokens t ON t.id = s.operator_token_id
          WHERE s.id_hash = ${idHash} AND s.expires_at > now()
            AND s.last_seen_at > now() - make_interval(secs => ${idleSeconds})
            AND t.status = 'active' AND (t.expires_at IS NULL OR t.expires_at > now())`
    })

    const touch = SqlSchema.void({
      Request: Schema.Uint8ArrayFromSelf,
      execute: (idHash) => sql`UPDATE dashboard_sessions SET last_seen_at = now() WHERE id_hash = ${idHash}`
    })

    const remove = SqlSchema.void({
      Request: Schema.Uint8ArrayFromSelf,
      execute: (idHash) => sql`DELETE FROM dashboard_sessions WHERE id_hash = ${idHash}`
    })

    const create = (row: typeof NewSession.Type) =>
      Effect.all([sweep(row.idleSeconds), insert(row), evict(row)], { discard: true }).pipe(sql.withTransaction)

    return {
      create: (row: typeof NewSession.Type) => create(row).pipe(Effect.orDie),
      find: (idHash: Uint8Array, idleSeconds: number) => find({ idHash, idleSeconds }).pipe(Effect.orDie),
      touch: (idHash: Uint8Array) => touch(idHash).pipe(Effect.orDie),
      remove: (idHash: Uint8Array) => remove(idHash).pipe(Effect.orDie)
    } as const
  })
}) {}
