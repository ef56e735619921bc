import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

const NewCall = Schema.Struct({
  callId: Schema.String,
  poolId: Schema.String,
  accountId: Schema.String,
  keyId: Schema.String,
  ttlSeconds: Schema.Number
})
export type NewCall = typeof NewCall.Type

const Lookup = Schema.Struct({ callId: Schema.String, poolId: Schema.String })

const Bound = Schema.Struct({ accountId: Schema.String, accountStatus: Schema.String })

export class CallsRepo extends Effect.Service<CallsRepo>()("Gateway/RealtimeCalls/CallsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const sweep = SqlSchema.void({
      Request: Schema.Void,
      execute: () => sql`DELETE FROM realtime_calls WHERE expires_at <= now()`
    })

    const insert = SqlSchema.void({
      Request: NewCall,
      execute: (call) =>
        sql`INSERT INTO realtime_calls (call_id, pool_id, account_id, key_id, expires_at)
          VALUES (${call.callId}, ${call.poolId}, ${call.accountId}, ${call.keyId},
            now() + make_interval(secs => ${call.ttlSeconds}))
          ON CONFLICT (call_id) DO UPDATE SET pool_id = excluded.pool_id, account_id = excluded.account_id,
            key_id = excluded.key_id, created_at = now(), expires_at = excluded.expires_at`
    })

    // A live call of this Pool, on an account still in it.
    const find = SqlSchema.findOne({
      Request: Lookup,
      Result: Bound,
      execute: ({ callId, poolId }) =>
        sql`SELECT c.account_id, a.status AS account_status FROM realtime_calls c
          JOIN pool_accounts pa ON pa.pool_id = c.pool_id AND pa.account_id = c.account_id
          JOIN accounts a ON a.id = c.account_id
          WHERE c.call_id = ${callId} AND c.pool_id = ${poolId} AND c.expires_at > now()`
    })

    // Expired calls go as a new one comes in: the table holds at most the calls of the last `ttlSeconds`.
    const bind = (call: NewCall) =>
      Effect.all([sweep(undefined), insert(call)], { discard: true }).pipe(sql.withTransaction)

    return {
      bind: (call: NewCall) => bind(call).pipe(Effect.orDie),
      find: (callId: string, poolId: string) => find({ callId, poolId }).pipe(Effect.orDie)
    } as const
  })
}) {}
