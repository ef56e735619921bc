import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

export const Candidate = Schema.Struct({ id: Schema.String })
export type Candidate = typeof Candidate.Type

const Pick = Schema.Struct({
  poolId: Schema.String,
  preferred: Schema.NullOr(Schema.String),
  exclude: Schema.Array(Schema.String)
})

export class SelectionRepo extends Effect.Service<SelectionRepo>()("Gateway/SelectionRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // Pick and mark used in one statement, so concurrent requests spread over the least recently used accounts.
    const pick = SqlSchema.findOne({
      Request: Pick,
      Result: Candidate,
      execute: ({ exclude, poolId, preferred }) =>
        sql`UPDATE accounts SET last_used_at = clock_timestamp()
          WHERE id = (
            SELECT a.id FROM pool_accounts pa JOIN accounts a ON a.id = pa.account_id
            WHERE pa.pool_id = ${poolId} AND a.status = 'active' AND a.id <> ALL(${exclude}::text[])
            ORDER BY coalesce(a.id = ${preferred}, false) DESC, a.last_used_at ASC NULLS FIRST, a.id
            LIMIT 1)
          RETURNING id`
    })

    const poolSize = SqlSchema.single({
      Request: Schema.String,
      Result: Schema.Struct({ active: Schema.NumberFromString }),
      execute: (poolId) =>
        sql`SELECT count(*) AS active FROM pool_accounts pa JOIN accounts a ON a.id = pa.account_id
          WHERE pa.pool_id = ${poolId} AND a.status = 'active'`
    })

    return {
      pick: (request: typeof Pick.Type) => pick(request).pipe(Effect.orDie),
      activeCount: (poolId: string) => poolSize(poolId).pipe(Effect.map((row) => row.active), Effect.orDie)
    } as const
  })
}) {}
