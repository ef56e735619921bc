import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import { AuditLog } from "./AuditLog.ts"
import { InvalidInput, PoolNotFound, PoolSlugTaken } from "./Domain/Errors.ts"
import { newId } from "./Domain/Ids.ts"
import type { Strategy } from "./Domain/Models.ts"
import { type PoolFlag, PoolsRepo } from "./Pools/PoolsRepo.ts"
import { RoutingChanges } from "./RoutingView/Changes.ts"
import { isUniqueViolation } from "./Sql/Errors.ts"

const slugShape = /^[a-z0-9][a-z0-9-]{0,62}$/

const found = <A>(slug: string, pool: Option.Option<A>) =>
  Option.match(pool, { onNone: () => Effect.fail(new PoolNotFound({ slug })), onSome: Effect.succeed })

export class Pools extends Effect.Service<Pools>()("Gateway/Pools", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* PoolsRepo
    const audit = yield* AuditLog
    const { after } = yield* RoutingChanges

    const create = Effect.fn("Pools.create")(function*(input: { slug: string; name?: string; strategy?: Strategy }) {
      if (!slugShape.test(input.slug)) {
        return yield* new InvalidInput({
          message:
            `pool slug "${input.slug}" must be lowercase letters, digits and dashes (1-63, starting with a letter or digit)`
        })
      }
      return yield* Effect.gen(function*() {
        const pool = yield* repo.insert({
          id: newId("pool"),
          slug: input.slug,
          name: input.name ?? input.slug,
          strategy: input.strategy ?? "least_recently_used"
        })
        yield* audit.record({
          action: "pool.create",
          targetKind: "pool",
          targetId: pool.id,
          details: { slug: pool.slug }
        })
        return pool
      }).pipe(
        sql.withTransaction,
        Effect.catchAll((error) =>
          isUniqueViolation(error) ? new PoolSlugTaken({ slug: input.slug }) : Effect.die(error)
        ),
        after
      )
    })

    const findBySlug = Effect.fn("Pools.findBySlug")(function*(slug: string) {
      return yield* found(slug, yield* repo.findBySlug(slug))
    })

    const setStrategy = Effect.fn("Pools.setStrategy")((ref: string, strategy: Strategy) =>
      Effect.gen(function*() {
        const { previous, ...pool } = yield* found(ref, yield* repo.setStrategy(ref, strategy))
        yield* audit.record({
          action: "pool.set_strategy",
          targetKind: "pool",
          targetId: pool.id,
          details: { from: previous, to: strategy }
        })
        return pool
      }).pipe(sql.withTransaction, Effect.catchTag("SqlError", Effect.die), after)
    )

    // A Pool's on/off policies: `autoRedeemResets` (a saved reset redeemed by itself when every active account rests at
    // its limit), `v1Enabled` (/v1 answers its keys). Audited.
    const setFlag = Effect.fn("Pools.setFlag")((ref: string, flag: PoolFlag, on: boolean) =>
      Effect.gen(function*() {
        const pool = yield* found(ref, yield* repo.setFlag(ref, flag, on))
        yield* audit.record({
          action: flag === "v1Enabled" ? "pool.set_v1" : "pool.set_auto_redeem",
          targetKind: "pool",
          targetId: pool.id,
          details: { [flag]: on }
        })
        return pool
      }).pipe(sql.withTransaction, Effect.catchTag("SqlError", Effect.die))
    )

    return { create, findBySlug, setStrategy, setFlag, list: repo.list } as const
  }),
  dependencies: [PoolsRepo.Default, AuditLog.Default, RoutingChanges.Default]
}) {}
