import { Clock, Context, Effect, Layer } from "effect"
import type { KeyLimits } from "./PoolKeys/PoolKeysRepo.ts"
import { KeyLimitExceeded, ModelNotAllowed } from "./Proxy/Errors.ts"
import { type KeyUsage, UsageRepo } from "./RateLimiter/UsageRepo.ts"

export declare namespace RateLimiter {
  export interface Service {
    // The key's policy for one request (or one websocket response.create): model allow-list, requests per minute,
    // tokens per day, concurrent streams. For a key with a counted limit, `record` (the request's row) runs with
    // the check, atomically across instances, and the answer is true; otherwise it is false and the caller records.
    readonly admit: <E>(
      keyId: string,
      limits: KeyLimits,
      model: string | null,
      record: Effect.Effect<void, E>
    ) => Effect.Effect<boolean, KeyLimitExceeded | ModelNotAllowed | E>
    // A cheap look before the body is read or decoded: refuses a key already at its rpm, concurrency or token limit.
    // It writes nothing and takes no lock, so `admit` still decides.
    readonly precheck: (keyId: string, limits: KeyLimits) => Effect.Effect<void, KeyLimitExceeded>
  }
}

export class RateLimiter extends Context.Tag("Gateway/RateLimiter")<RateLimiter, RateLimiter.Service>() {}

const secondsUntil = (at: number, now: number) => Math.max(1, Math.ceil((at - now) / 1000))

const check = (limits: KeyLimits, usage: KeyUsage) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    if (limits.requestsPerMinute !== null && usage.lastMinute >= limits.requestsPerMinute) {
      const oldest = usage.oldestInMinute?.getTime() ?? now
      return yield* new KeyLimitExceeded({
        limit: "requests_per_minute",
        retryAfterSeconds: secondsUntil(oldest + 60_000, now)
      })
    }
    if (limits.maxConcurrent !== null && usage.inFlight >= limits.maxConcurrent) {
      return yield* new KeyLimitExceeded({ limit: "concurrent_streams", retryAfterSeconds: 1 })
    }
    if (limits.tokensPerDay !== null && usage.tokensToday >= limits.tokensPerDay) {
      const midnight = new Date(now)
      midnight.setUTCHours(24, 0, 0, 0)
      return yield* new KeyLimitExceeded({
        limit: "tokens_per_day",
        retryAfterSeconds: secondsUntil(midnight.getTime(), now)
      })
    }
  })

export const make = Effect.gen(function*() {
  const repo = yield* UsageRepo

  const admit: RateLimiter.Service["admit"] = (keyId, limits, model, record) =>
    Effect.gen(function*() {
      if (limits.allowedModels !== null && model !== null && !limits.allowedModels.includes(model)) {
        return yield* new ModelNotAllowed({ model })
      }
      if (limits.requestsPerMinute === null && limits.tokensPerDay === null && limits.maxConcurrent === null) {
        return false
      }
      const checked = Effect.flatMap(repo.usage(keyId), (usage) => check(limits, usage))
      yield* repo.exclusive(keyId, Effect.zipRight(checked, record))
      return true
    })

  const precheck: RateLimiter.Service["precheck"] = (keyId, limits) =>
    limits.requestsPerMinute === null && limits.tokensPerDay === null && limits.maxConcurrent === null
      ? Effect.void
      : Effect.flatMap(repo.usage(keyId), (usage) => check(limits, usage))

  return { admit, precheck } satisfies RateLimiter.Service
})

export const layer = Layer.effect(RateLimiter, make).pipe(Layer.provide(UsageRepo.Default))
