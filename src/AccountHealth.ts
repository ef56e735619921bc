import { Clock, Effect, Option, Schema } from "effect"
import { HealthRepo } from "./AccountHealth/HealthRepo.ts"
import type { UsageReport } from "./Quota/Evidence.ts"

const UsageLimit = Schema.Struct({
  error: Schema.Struct({
    type: Schema.optional(Schema.String),
    code: Schema.optional(Schema.String),
    resets_at: Schema.optional(Schema.Number),
    resets_in_seconds: Schema.optional(Schema.Number)
  })
})
const decodeUsageLimit = Schema.decodeUnknownOption(UsageLimit)

// This many failures in a row (5xx, overload, unreachable) open an account's circuit.
export const circuitThreshold = 3

// Without a reset time in the answer, an exhausted account rests this long before it is tried again.
const defaultCooldownMs = 5 * 60 * 1000
// An account whose plan does not include Codex rests this long.
const planCooldownMs = 6 * 60 * 60 * 1000

// When an account was told it hit its usage limit, it sits out until the reset the answer names.
export class AccountHealth extends Effect.Service<AccountHealth>()("Gateway/AccountHealth", {
  effect: Effect.gen(function*() {
    const repo = yield* HealthRepo

    // `body` is an upstream error body or websocket error frame, `retryAfter` its Retry-After. A usage limit rests
    // the account until the reset it names; a plan without Codex for long; a short-term rate limit (a Retry-After on
    // anything else) for that many seconds, at most 5 minutes. Anything else is ignored here.
    const observeError = Effect.fnUntraced(
      function*(accountId: string, body: unknown, retryAfter?: string) {
        const now = yield* Clock.currentTimeMillis
        const error: typeof UsageLimit.Type["error"] = Option.match(decodeUsageLimit(body), {
          onNone: () => ({}),
          onSome: (parsed) => parsed.error
        })
        const kind = [error.type, error.code].find((name) =>
          name === "usage_limit_reached" || name === "usage_not_included"
        )
        if (kind === "usage_not_included") {
          // That does not pass by itself: asked again only after a long rest, or when an operator clears it.
          const until = new Date(now + planCooldownMs)
          return yield* repo.cooldown({
            accountId,
            until,
            reason: "usage_not_included",
            errorCode: "usage_not_included"
          })
        }
        if (kind === undefined) {
          const seconds = retryAfter !== undefined && /^\d+$/.test(retryAfter.trim())
            ? Math.min(Number(retryAfter), 300)
            : 0
          if (seconds === 0) return
          return yield* repo.cooldown({
            accountId,
            until: new Date(now + seconds * 1000),
            reason: "rate_limited",
            errorCode: "rate_limited"
          })
        }
        const until = error.resets_at !== undefined
          ? error.resets_at * 1000
          : now + (error.resets_in_seconds !== undefined ? error.resets_in_seconds * 1000 : defaultCooldownMs)
        yield* repo.cooldown({
          accountId,
          until: new Date(Math.max(until, now)),
          reason: "usage_limit",
          errorCode: "usage_limit_reached"
        })
      }
    )

    // At the limit: the account rests until the full window resets (the latest reset when upstream names none full).
    const rest = Effect.fnUntraced(function*(accountId: string, report: UsageReport) {
      const now = yield* Clock.currentTimeMillis
      const resets = (windows: UsageReport["windows"]) =>
        windows.flatMap((window) => window.resetsAt === null ? [] : [window.resetsAt.getTime()])
      const full = resets(report.windows.filter((window) => window.usedPercent >= 100))
      const candidates = full.length > 0 ? full : resets(report.windows)
      const until = candidates.length > 0 ? Math.max(...candidates) : now + defaultCooldownMs
      yield* repo.cooldown({
        accountId,
        until: new Date(Math.max(until, now)),
        reason: "usage_limit",
        errorCode: "usage_limit_reached"
      })
    })

    // A usage report asked of upstream at `askedAt`. At the limit: the account rests. Below it: fresh evidence of a
    // reset ends a usage-limit rest.
    const observeUsage = Effect.fnUntraced(
      function*(accountId: string, report: UsageReport, askedAt: Date) {
        if (!report.limitReached) {
          return (yield* repo.endUsageCooldown(accountId, askedAt))
            ? "back" as const
            : "unchanged" as const
        }
        yield* rest(accountId, report)
        return "resting" as const
      }
    )

    // What a response reported in passing: at the limit, the account rests now rather than after its next 429. Not
    // at the limit says nothing about a rest, since responses end out of order.
    const observeLimit = (accountId: string, report: UsageReport) =>
      report.limitReached ? rest(accountId, report) : Effect.void

    // Accounts with failures this instance has seen; a success on one of them closes its circuit.
    const troubled = new Set<string>()

    const recordFailure = Effect.fnUntraced(function*(accountId: string, errorCode: string) {
      troubled.add(accountId)
      yield* repo.failure(accountId, errorCode, circuitThreshold)
    })

    const recordSuccess = (accountId: string) => troubled.delete(accountId) ? repo.success(accountId) : Effect.void

    return {
      observeError,
      observeUsage,
      // the account's saved usage-limit resets, as its usage answer of `askedAt` named them
      observeResetCredits: repo.resetCredits,
      observeLimit,
      recordFailure,
      recordSuccess,
      clear: repo.clear,
      // a saved reset spent on the account, as upstream confirmed: its usage-limit rest is over
      resetRedeemed: repo.resetRedeemed,
      claimUsagePolls: repo.claimPolls
    } as const
  }),
  dependencies: [HealthRepo.Default]
}) {}
