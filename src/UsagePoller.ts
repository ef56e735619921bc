import { Duration, Effect, Layer, Option, Schedule } from "effect"
import { AccountCredentials } from "./AccountCredentials.ts"
import { AccountHealth } from "./AccountHealth.ts"
import { AuditLog } from "./AuditLog.ts"
import { forkLoop } from "./Background.ts"
import { UsagePollSeconds } from "./Config.ts"
import { Actor } from "./Domain/Actor.ts"
import { Metrics } from "./Metrics.ts"
import { Quota } from "./Quota.ts"
import { askUsage, keepUsage } from "./Quota/AskUsage.ts"
import { UpstreamClient } from "./UpstreamClient.ts"

// Accounts asked per round, and at once.
const perRound = 32
const concurrency = 4
const askTimeout = Duration.seconds(10)
// A resting account is asked at least this often, so an early reset puts it back to work within a minute.
const coolingCeilingSeconds = 60

// Asks upstream for each account's usage (the endpoint Codex's `/status` reads) when no response has told us lately,
// and every minute for accounts resting at their usage limit. What it learns feeds quota_first, rests an account that
// is at its limit before a request finds out, and ends a rest early when the limit has been reset. Instances share
// the work through a claim in the database, so each account is asked once per interval however many run.
export const make = Effect.gen(function*() {
  const everySeconds = yield* UsagePollSeconds
  if (everySeconds === 0) return
  const coolingSeconds = Math.min(coolingCeilingSeconds, everySeconds)
  const credentials = yield* AccountCredentials
  const health = yield* AccountHealth
  const quota = yield* Quota
  const upstream = yield* UpstreamClient
  const audit = yield* AuditLog
  const metrics = yield* Metrics

  const ask = (accountId: string) =>
    Effect.gen(function*() {
      const asked = yield* askUsage(credentials, upstream, accountId)
      yield* keepUsage(quota, health, accountId, asked)
      const { askedAt, report, status } = asked
      if (Option.isNone(report)) {
        yield* metrics.usagePolled("refused")
        return yield* Effect.logDebug("usage poll refused or not understood").pipe(
          Effect.annotateLogs({ accountId, status })
        )
      }
      yield* metrics.usagePolled("ok")
      const verdict = yield* health.observeUsage(accountId, report.value, askedAt)
      if (verdict === "back") {
        yield* Effect.logInfo("usage limit reset early; account back in rotation").pipe(
          Effect.annotateLogs({ accountId })
        )
        yield* audit.record({
          action: "account.cooldown_ended",
          targetKind: "account",
          targetId: accountId,
          details: { evidence: "usage_poll" }
        })
      }
    }).pipe(
      Effect.timeout(askTimeout),
      Effect.catchAll((error) =>
        Effect.zipRight(
          metrics.usagePolled("failed"),
          Effect.logDebug("usage poll failed").pipe(Effect.annotateLogs({ accountId, error: error._tag }))
        )
      )
    )

  const round = health.claimUsagePolls({ everySeconds, coolingSeconds, limit: perRound }).pipe(
    Effect.flatMap((due) => Effect.forEach(due, ask, { concurrency, discard: true })),
    Effect.provideService(Actor, { kind: "system", id: "usage_poll" })
  )
  const spacing = Duration.millis(Math.min(15_000, Math.max(250, (coolingSeconds * 1000) / 4)))
  yield* forkLoop("usage poll", round, Schedule.spaced(spacing))
})

export const layer = Layer.scopedDiscard(make).pipe(
  Layer.provide([AccountCredentials.Default, AccountHealth.Default, Quota.Default, AuditLog.Default, Metrics.Default])
)
