import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { Pool, Strategy } from "../Domain/Models.ts"

export const PoolSummary = Schema.Struct({
  ...Pool.fields,
  accounts: Schema.NumberFromString,
  keys: Schema.NumberFromString
})
export type PoolSummary = typeof PoolSummary.Type

const NewPool = Schema.Struct({ id: Schema.String, slug: Schema.String, name: Schema.String, strategy: Strategy })

export class PoolsRepo extends Effect.Service<PoolsRepo>()("Gateway/PoolsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insert = SqlSchema.single({
      Request: NewPool,
      Result: Pool,
      execute: (pool) => sql`INSERT INTO pools ${sql.insert(pool)} RETURNING *`
    })

    const findBySlug = SqlSchema.findOne({
      Request: Schema.String,
      Result: Pool,
      execute: (slug) => sql`SELECT * FROM pools WHERE slug = ${slug}`
    })

    const list = SqlSchema.findAll({
      Request: Schema.Void,
      Result: PoolSummary,
      execute: () =>
        sql`
          SELECT p.*,
            (SELECT count(*) FROM pool_accounts pa WHERE pa.pool_id = p.id) AS accounts,
            (SELECT count(*) FROM pool_keys k WHERE k.pool_id = p.id AND k.status = 'active') AS keys
          FROM pools p ORDER BY p.slug`
    })

    return {
      insert: (pool: typeof NewPool.Type) => insert(pool),
      findBySlug: (slug: string) => findBySlug(slug).pipe(Effect.orDie),
      list: list(undefined).pipe(Effect.orDie)
    } as const
  })
}) {}
