import { SqlClient } from "@effect/sql"
import { Clock, Effect } from "effect"
import { AuditLog } from "./AuditLog.ts"
import { CredentialRejected } from "./Domain/Errors.ts"
import { orNotFound } from "./Domain/Found.ts"
import { issueSecret } from "./Domain/Secret.ts"
import { verifyToken } from "./Domain/Verify.ts"
import { type KeyLimits, PoolKeysRepo } from "./PoolKeys/PoolKeysRepo.ts"
import { Pools } from "./Pools.ts"

// The largest limits a key may carry, set from the CLI or the MCP tools alike.
export const limitCeilings = {
  requestsPerMinute: 1_000_000,
  tokensPerDay: 1_000_000_000_000,
  maxConcurrent: 10_000
} as const

// An omitted (undefined) limit stays as it is; null removes it.
export type LimitChanges = { readonly [K in keyof KeyLimits]?: KeyLimits[K] | undefined }

const keep = <A>(change: A | undefined, current: A): A => change === undefined ? current : change

export class PoolKeys extends Effect.Service<PoolKeys>()("Gateway/PoolKeys", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* PoolKeysRepo
    const pools = yield* Pools
    const audit = yield* AuditLog

    // The token is returned once and never stored: only its public id and the SHA-256 of its secret are kept.
    const create = Effect.fn("PoolKeys.create")(function*(input: {
      poolSlug: string
      name?: string
      lifetimeMs?: number
      limits?: Partial<Omit<KeyLimits, "tokensPerDay"> & { tokensPerDay: number | null }>
    }) {
      const pool = yield* pools.findBySlug(input.poolSlug)
      const issued = issueSecret("cpk")
      const now = yield* Clock.currentTimeMillis
      const expiresAt = input.lifetimeMs === undefined ? null : new Date(now + input.lifetimeMs)
      yield* Effect.gen(function*() {
        yield* repo.insert({
          id: issued.publicId,
          poolId: pool.id,
          name: input.name ?? `${pool.slug}-key`,
          secretHash: issued.hash,
          expiresAt,
          requestsPerMinute: input.limits?.requestsPerMinute ?? null,
          tokensPerDay: input.limits?.tokensPerDay ?? null,
          maxConcurrent: input.limits?.maxConcurrent ?? null,
          allowedModels: input.limits?.allowedModels ?? null
        })
        yield* audit.record({
          action: "key.create",
          targetKind: "key",
          targetId: issued.publicId,
          details: { pool: pool.slug }
        })
      }).pipe(sql.withTransaction, Effect.orDie)
      const key = yield* repo.findById(issued.publicId).pipe(orNotFound("key", issued.publicId))
      return { key, token: issued.token } as const
    })

    const revoke = Effect.fn("PoolKeys.revoke")((id: string) =>
      Effect.gen(function*() {
        yield* repo.revoke(id).pipe(orNotFound("key", id))
        yield* audit.record({ action: "key.revoke", targetKind: "key", targetId: id })
      }).pipe(sql.withTransaction, Effect.catchTag("SqlError", Effect.die))
    )

    const setLimits = Effect.fn("PoolKeys.setLimits")((id: string, changes: LimitChanges) =>
      Effect.gen(function*() {
        yield* repo.lock(id)
        const current = yield* repo.findById(id).pipe(orNotFound("key", id))
        const next = {
          requestsPerMinute: keep(changes.requestsPerMinute, current.requestsPerMinute),
          tokensPerDay: keep(changes.tokensPerDay, current.tokensPerDay),
          maxConcurrent: keep(changes.maxConcurrent, current.maxConcurrent),
          allowedModels: keep(changes.allowedModels, current.allowedModels)
        }
        yield* repo.setLimits({ id, ...next })
        yield* audit.record({
          action: "key.set_limits",
          targetKind: "key",
          targetId: id,
          details: { ...next, allowedModels: next.allowedModels === null ? null : next.allowedModels.join(",") }
        })
        return yield* repo.findById(id).pipe(orNotFound("key", id))
      }).pipe(sql.withTransaction, Effect.catchTag("SqlError", Effect.die))
    )

    const verify = Effect.fn("PoolKeys.verify")(function*(token: string) {
      const key = yield* verifyToken("cpk", token, repo.findById)
      if (key.poolStatus !== "active") return yield* new CredentialRejected({ kind: "cpk", reason: "pool_disabled" })
      return key
    })

    return { create, revoke, setLimits, verify, touch: repo.touch, list: repo.list } as const
  }),
  dependencies: [PoolKeysRepo.Default, Pools.Default, AuditLog.Default]
}) {}
