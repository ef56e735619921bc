import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { Pool, Strategy } from "../Domain/Models.ts"

export const PoolSummary = Schema.Struct({
  ...Pool.fields,
  accounts: Schema.NumberFromString,
  keys: Schema.NumberFromString
})
export type PoolSummary = typeof PoolSummary.Type

export const PoolFlag = Schema.Literal("autoRedeemResets", "v1Enabled")
export type PoolFlag = typeof PoolFlag.Type
const flagColumns: Record<PoolFlag, string> = { autoRedeemResets: "auto_redeem_resets", v1Enabled: "v1_enabled" }

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
      // a slug, or an id (`pool_…`, which no slug can be)
      execute: (ref) => sql`SELECT * FROM pools WHERE slug = ${ref} OR id = ${ref}`
    })

    // One statement reads the strategy it replaces (for the audit) and writes the new one; a Pool by slug or id.
    const setStrategy = SqlSchema.findOne({
      Request: Schema.Struct({ ref: Schema.String, strategy: Strategy }),
      Result: Schema.Struct({ ...Pool.fields, previous: Strategy }),
      execute: ({ ref, strategy }) =>
        sql`UPDATE pools p SET strategy = ${strategy}, updated_at = now()
          FROM (SELECT id, strategy FROM pools WHERE slug = ${ref} OR id = ${ref} FOR UPDATE) before
          WHERE p.id = before.id RETURNING p.*, before.strategy AS previous`
    })

    // A Pool's on/off policies, by name: saved resets redeemed by themselves; /v1 answering its keys.
    const setFlag = SqlSchema.findOne({
      Request: Schema.Struct({ ref: Schema.String, flag: PoolFlag, on: Schema.Boolean }),
      Result: Pool,
      execute: ({ flag, on, ref }) =>
        sql`UPDATE pools SET ${sql(flagColumns[flag])} = ${on}, updated_at = now()
          WHERE slug = ${ref} OR id = ${ref} RETURNING *`
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
      setStrategy: (ref: string, strategy: Strategy) => setStrategy({ ref, strategy }).pipe(Effect.orDie),
      setFlag: (ref: string, flag: PoolFlag, on: boolean) => setFlag({ ref, flag, on }).pipe(Effect.orDie),
      list: list(undefined).pipe(Effect.orDie)
    } as const
  })
}) {}
