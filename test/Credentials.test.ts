import { describe, expect, layer } from "@effect/vitest"
import { Clock, Effect, Exit } from "effect"
import { randomBytes } from "node:crypto"
import { CredentialRejected } from "../src/Domain/Errors.ts"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { Pools } from "../src/Pools.ts"
import { backends, withBackend } from "./support/Databases.ts"
import { ManagementServices } from "./support/Services.ts"

const slug = () => `pool-${randomBytes(4).toString("hex")}`

const rejection = <A, R>(effect: Effect.Effect<A, CredentialRejected, R>) =>
  Effect.map(Effect.exit(effect), (exit) =>
    Exit.match(exit, {
      onFailure: (cause) => cause._tag === "Fail" ? cause.error.reason : "defect",
      onSuccess: () => "accepted"
    }))

// Runs an effect as if `ms` had passed, without waiting.
const later = (ms: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.clockWith((clock) =>
    Effect.withClock(effect, {
      [Clock.ClockTypeId]: Clock.ClockTypeId,
      currentTimeMillis: Effect.map(clock.currentTimeMillis, (now) => now + ms),
      currentTimeNanos: Effect.map(clock.currentTimeNanos, (now) => now + BigInt(ms) * 1_000_000n),
      unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis() + ms,
      unsafeCurrentTimeNanos: () => clock.unsafeCurrentTimeNanos() + BigInt(ms) * 1_000_000n,
      sleep: clock.sleep
    })
  )

describe.each(backends)("credentials on %s", (backend) => {
  layer(withBackend(backend, ManagementServices), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("a Pool key verifies with its secret only, until revoked or expired", () =>
      Effect.gen(function*() {
        const pool = yield* (yield* Pools).create({ slug: slug() })
        const keys = yield* PoolKeys
        const { key, token } = yield* keys.create({ poolSlug: pool.slug, lifetimeMs: 60_000 })
        expect(token).toMatch(new RegExp(`^cpk_${key.id}_[A-Za-z0-9_-]{43}$`))

        expect((yield* keys.verify(token)).poolId).toEqual(pool.id)
        const secret = token.slice(-43)
        const otherSecret = randomBytes(32).toString("base64url")
        expect(yield* rejection(keys.verify(token.replace(secret, otherSecret)))).toEqual("invalid")
        expect(yield* rejection(keys.verify(`cpk_${randomBytes(8).toString("hex")}_${secret}`))).toEqual("invalid")
        expect(yield* rejection(keys.verify("cpk_nothex_short"))).toEqual("malformed")
        expect(yield* rejection(keys.verify(token.replace("cpk_", "cpo_")))).toEqual("malformed")
        expect(yield* rejection(keys.verify(token).pipe(later(61_000)))).toEqual("expired")

        yield* keys.revoke(key.id)
        expect(yield* rejection(keys.verify(token))).toEqual("revoked")
      }))

    it.effect("unknown ids are reported, not ignored", () =>
      Effect.gen(function*() {
        const keys = yield* PoolKeys
        const exit = yield* Effect.exit(keys.revoke("0000000000000000"))
        expect(exit).toMatchObject({ _tag: "Failure" })
        const created = yield* Effect.exit(keys.create({ poolSlug: "no-such-pool" }))
        expect(created).toMatchObject({ _tag: "Failure", cause: { error: { _tag: "PoolNotFound" } } })
      }))

    it.effect("an operator token carries its scope and stops working when revoked", () =>
      Effect.gen(function*() {
        const tokens = yield* OperatorTokens
        const { operatorToken, token } = yield* tokens.create({ scope: "admin" })
        expect(token.startsWith(`cpo_${operatorToken.id}_`)).toBe(true)
        expect((yield* tokens.verify(token)).scope).toEqual("admin")
        expect(yield* rejection((yield* PoolKeys).verify(token))).toEqual("malformed")
        yield* tokens.revoke(operatorToken.id)
        expect(yield* rejection(tokens.verify(token))).toEqual("revoked")
      }))
  })
})
