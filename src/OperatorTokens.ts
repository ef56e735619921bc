import { SqlClient } from "@effect/sql"
import { Clock, Effect, FiberSet } from "effect"
import { AuditLog } from "./AuditLog.ts"
import { orNotFound } from "./Domain/Found.ts"
import type { OperatorScope } from "./Domain/Models.ts"
import { issueSecret } from "./Domain/Secret.ts"
import { verifyToken } from "./Domain/Verify.ts"
import { OperatorTokensRepo } from "./OperatorTokens/OperatorTokensRepo.ts"

// A token's last use is written at most this often, off the request's path; the map of when is bounded.
const touchEveryMs = 60_000
const touchedMax = 10_000

export class OperatorTokens extends Effect.Service<OperatorTokens>()("Gateway/OperatorTokens", {
  scoped: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* OperatorTokensRepo
    const audit = yield* AuditLog
    const background = yield* FiberSet.makeRuntime()
    const touched = new Map<string, number>()

    const noteUse = (id: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const last = touched.get(id)
        if (last !== undefined && now - last < touchEveryMs) return
        if (touched.size >= touchedMax) touched.clear()
        touched.set(id, now)
        background(
          repo.touch(id).pipe(
            Effect.catchAllCause((cause) => {
              touched.delete(id)
              return Effect.logWarning("recording an operator token's last use failed", cause)
            })
          )
        )
      })

    const create = Effect.fn("OperatorTokens.create")(function*(input: { name?: string; scope: OperatorScope }) {
      const issued = issueSecret("cpo")
      yield* Effect.gen(function*() {
        yield* repo.insert({
          id: issued.publicId,
          name: input.name ?? `${input.scope}-token`,
          scope: input.scope,
          secretHash: issued.hash,
          expiresAt: null
        })
        yield* audit.record({
          action: "operator_token.create",
          targetKind: "operator_token",
          targetId: issued.publicId,
          details: { scope: input.scope }
        })
      }).pipe(sql.withTransaction, Effect.orDie)
      const token = yield* repo.findById(issued.publicId).pipe(orNotFound("operator token", issued.publicId))
      return { operatorToken: token, token: issued.token } as const
    })

    const revoke = Effect.fn("OperatorTokens.revoke")((id: string) =>
      Effect.gen(function*() {
        yield* repo.revoke(id).pipe(orNotFound("operator token", id))
        yield* audit.record({ action: "operator_token.revoke", targetKind: "operator_token", targetId: id })
      }).pipe(sql.withTransaction, Effect.catchTag("SqlError", Effect.die))
    )

    const verify = (token: string) =>
      verifyToken("cpo", token, repo.findById).pipe(
        Effect.tap((verified) => noteUse(verified.id)),
        Effect.withSpan("OperatorTokens.verify")
      )

    return { create, revoke, verify, list: repo.list } as const
  }),
  dependencies: [OperatorTokensRepo.Default, AuditLog.Default]
}) {}
