import { Duration, Effect, Either, Layer, Option, Schedule, Schema } from "effect"
import { AccountCredentials } from "./AccountCredentials.ts"
import { AccountHealth } from "./AccountHealth.ts"
import { AuditLog } from "./AuditLog.ts"
import { forkLoop } from "./Background.ts"
import { UsagePollSeconds } from "./Config.ts"
import { Actor } from "./Domain/Actor.ts"
import { RedemptionFailed, RedemptionRefused } from "./Domain/Errors.ts"
import { newId } from "./Domain/Ids.ts"
import { Metrics } from "./Metrics.ts"
import { Quota } from "./Quota.ts"
import { askBackend, askUsage, keepUsage } from "./Quota/AskUsage.ts"
import { type RedemptionRow, RedemptionsRepo } from "./ResetCredits/RedemptionsRepo.ts"
import { UpstreamClient } from "./UpstreamClient.ts"

// Upstream's answers to a redemption (POST {backend}/wham/rate-limit-reset-credits/consume): `already_redeemed` is
// an earlier attempt under the same redeem_request_id having gone through.
export const ConsumeCode = Schema.Literal("reset", "already_redeemed", "nothing_to_reset", "no_credit")
export type ConsumeCode = typeof ConsumeCode.Type
const ConsumeAnswer = Schema.Struct({ code: ConsumeCode, windows_reset: Schema.optional(Schema.Int) })
const decodeConsumeAnswer = Schema.decodeUnknownOption(ConsumeAnswer)

// A list of saved resets (backend-client's RateLimitResetCreditsDetails); a credit keeps only its own fields.
const Credit = Schema.Struct({
  id: Schema.String,
  reset_type: Schema.String,
  status: Schema.String,
  granted_at: Schema.Union(Schema.String, Schema.Number),
  expires_at: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Number))),
  title: Schema.optional(Schema.NullOr(Schema.String)),
  description: Schema.optional(Schema.NullOr(Schema.String))
})
const CreditList = Schema.Struct({
  available_count: Schema.NonNegativeInt,
  credits: Schema.optional(Schema.Array(Credit))
})
const decodeCreditList = Schema.decodeUnknownOption(CreditList)

// At most this many accounts' lists make up a Pool's.
const listedAccounts = 16

export interface Redemption {
  readonly requestId: string
  // the account a reset was spent on; null when the Pool had nothing to spend one on
  readonly accountId: string | null
  readonly code: ConsumeCode
  readonly windowsReset: number
  // answered from an earlier redemption under the same request id: nothing was asked of upstream this time
  readonly replayed: boolean
}

// Who asked, for the audit: an operator (CLI, MCP), Codex's own call through a Pool key, or the Pool's automatic
// policy.
export type Via = "operator" | "codex" | "auto"

// A redemption's upstream call gives up after this long; the row then says it failed, and the same request id may be
// tried again (upstream answers already_redeemed if the lost attempt had gone through).
const upstreamTimeout = Duration.seconds(20)

// Per-account and per-Pool redemption of saved usage-limit resets. One redemption per account at a time across
// instances (the claimed row), a request id redeems at most once (the row's key; our own id goes upstream), only an
// account resting at its usage limit is redeemed, each outcome is audited, and a confirmed reset ends the account's
// rest at once.
export class ResetCredits extends Effect.Service<ResetCredits>()("Gateway/ResetCredits", {
  effect: Effect.gen(function*() {
    const repo = yield* RedemptionsRepo
    const credentials = yield* AccountCredentials
    const upstream = yield* UpstreamClient
    const health = yield* AccountHealth
    const quota = yield* Quota
    const audit = yield* AuditLog
    const metrics = yield* Metrics

    const replayed = (row: RedemptionRow): Redemption => ({
      requestId: row.requestId,
      accountId: row.accountId,
      code: Schema.is(ConsumeCode)(row.code) ? row.code : "nothing_to_reset",
      windowsReset: row.windowsReset ?? 0,
      replayed: true
    })

    // Every answer upstream gave, or its failure, is audited and counted.
    const audited = (
      accountId: string,
      requestId: string,
      via: Via,
      details: { outcome: string } & Record<string, string | number>
    ) =>
      Effect.zipRight(
        audit.record({
          action: "account.redeem_reset",
          targetKind: "account",
          targetId: accountId,
          details: { requestId, via, ...details }
        }),
        metrics.resetRedeemed(details.outcome, via)
      )

    // Claims the redemption: a new row, or a failed one under the same request id tried again. The row's upstream id
    // when claimed; a done one's answer when there is nothing to claim.
    const claim = (accountId: string, scope: string, requestId: string) =>
      Effect.gen(function*() {
        const refused = (reason: RedemptionRefused["reason"]) => new RedemptionRefused({ accountId, reason })
        const existing = yield* repo.find(scope, requestId)
        if (Option.isSome(existing)) {
          const row = existing.value
          if (row.accountId !== accountId) return yield* refused("request_id_reused")
          if (row.status === "done") return Either.left(replayed(row))
          if (row.status === "pending" || !(yield* repo.retry(scope, requestId))) return yield* refused("in_progress")
          return Either.right(row.upstreamRequestId)
        }
        const actor = yield* Actor
        const upstreamRequestId = newId("rdm")
        if (
          yield* repo.claim({
            scope,
            requestId,
            upstreamRequestId,
            accountId,
            actorKind: actor.kind,
            actorId: actor.id
          })
        ) {
          return Either.right(upstreamRequestId)
        }
        // Taken meanwhile: the same request id by a twin of this call, or another redemption of the account.
        const raced = yield* repo.find(scope, requestId)
        if (Option.isSome(raced) && raced.value.status === "done" && raced.value.accountId === accountId) {
          return Either.left(replayed(raced.value))
        }
        return yield* refused("in_progress")
      })

    // With the claim held: checked against what is known of the account, then asked of upstream. The row always ends
    // done or failed.
    const spend = (accountId: string, scope: string, requestId: string, upstreamRequestId: string, via: Via) =>
      Effect.gen(function*() {
        const resting = yield* repo.resting(accountId)
        if (resting === null || resting.resetCredits === 0) {
          // Nothing asked: the claim is let go as a failure a later call under this id may claim again.
          const reason = resting === null ? "not_at_limit" : "no_credit"
          yield* repo.finish({ scope, requestId, status: "failed", code: null, windowsReset: null, errorCode: reason })
          return yield* new RedemptionRefused({ accountId, reason })
        }
        const fail = (reason: string) =>
          Effect.zipRight(
            Effect.zipRight(
              repo.finish({ scope, requestId, status: "failed", code: null, windowsReset: null, errorCode: reason }),
              audited(accountId, requestId, via, { outcome: "failed", reason })
            ),
            new RedemptionFailed({ accountId, reason })
          )
        const asked = yield* askBackend(credentials, upstream, accountId, {
          method: "POST",
          path: "/wham/rate-limit-reset-credits/consume",
          json: { redeem_request_id: upstreamRequestId }
        }).pipe(
          Effect.timeoutFail({ duration: upstreamTimeout, onTimeout: () => ({ _tag: "timeout" as const }) }),
          Effect.either
        )
        if (Either.isLeft(asked)) return yield* fail(asked.left._tag === "timeout" ? "timeout" : asked.left._tag)
        if (asked.right.status !== 200) return yield* fail(`http_${asked.right.status}`)
        const answer = decodeConsumeAnswer(asked.right.json)
        if (Option.isNone(answer)) return yield* fail("answer_not_understood")
        const { code } = answer.value
        const windowsReset = answer.value.windows_reset ?? 0
        if (code === "reset" || code === "already_redeemed") yield* health.resetRedeemed(accountId)
        if (code === "no_credit") yield* health.observeResetCredits(accountId, 0, new Date())
        yield* repo.finish({ scope, requestId, status: "done", code, windowsReset, errorCode: null })
        yield* audited(accountId, requestId, via, { outcome: code, windowsReset })
        // What the account has now, windows and saved resets, as its usage answer says; best effort.
        yield* askUsage(credentials, upstream, accountId).pipe(
          Effect.flatMap((usage) => keepUsage(quota, health, accountId, usage)),
          Effect.timeout(upstreamTimeout),
          Effect.catchAll(() => Effect.void)
        )
        return { requestId, accountId, code, windowsReset, replayed: false } satisfies Redemption
      }).pipe(
        // Interrupted mid-call (the caller left, the instance is stopping): the row says so, and a retry may claim it.
        Effect.onInterrupt(() =>
          repo.finish({ scope, requestId, status: "failed", code: null, windowsReset: null, errorCode: "interrupted" })
        )
      )

    // One account's saved reset, redeemed under `requestId` (unique within `scope`).
    const redeemAccount = Effect.fn("ResetCredits.redeemAccount")(
      function*(accountId: string, scope: string, requestId: string, via: Via) {
        const claimed = yield* claim(accountId, scope, requestId)
        if (Either.isLeft(claimed)) return claimed.left
        return yield* spend(accountId, scope, requestId, claimed.right, via)
      }
    )

    // For a Pool: spent on the account that most needs it — resting at its usage limit, the longest rest first,
    // not known to have none left. Without such an account, upstream's own answers say why: nothing to reset, or no
    // saved reset. The same request id again gives the first answer, from the account it went to.
    const redeemForPool = Effect.fn("ResetCredits.redeemForPool")(
      function*(poolId: string, requestId: string, via: Via) {
        const existing = yield* repo.find(poolId, requestId)
        if (Option.isSome(existing)) return yield* redeemAccount(existing.value.accountId, poolId, requestId, via)
        const resting = yield* repo.restingInPool(poolId)
        const candidates = resting.filter((account) => account.resetCredits !== 0)
        const nothing = (code: ConsumeCode): Redemption => ({
          requestId,
          accountId: null,
          code,
          windowsReset: 0,
          replayed: false
        })
        if (resting.length === 0) return nothing("nothing_to_reset")
        const [first, ...others] = candidates
        if (first === undefined) return nothing("no_credit")
        // An account another redemption holds (or that stopped resting meanwhile) passes the turn to the next one.
        const spendOn = (accountId: string) => redeemAccount(accountId, poolId, requestId, via)
        return yield* others.reduce(
          (tried, next) => Effect.catchTag(tried, "RedemptionRefused", () => spendOn(next.accountId)),
          spendOn(first.accountId)
        )
      }
    )

    // The Pool's saved resets as Codex lists them (GET {chatgpt_base_url}wham/rate-limit-reset-credits): the lists of
    // its active accounts known to have any, asked of upstream, in one. An account whose list cannot be had is left
    // out. Only a credit's own fields are passed on.
    const listForPool = Effect.fn("ResetCredits.listForPool")(function*(poolId: string) {
      const accounts = yield* repo.withCreditsInPool(poolId, listedAccounts)
      const lists = yield* Effect.forEach(
        accounts,
        (accountId) =>
          askBackend(credentials, upstream, accountId, { method: "GET", path: "/wham/rate-limit-reset-credits" }).pipe(
            Effect.timeout(upstreamTimeout),
            Effect.map((asked) => asked.status === 200 ? decodeCreditList(asked.json) : Option.none()),
            Effect.orElseSucceed(() => Option.none<typeof CreditList.Type>())
          ),
        { concurrency: 4 }
      )
      const answered = lists.flatMap(Option.toArray)
      return {
        available_count: answered.reduce((sum, list) => sum + list.available_count, 0),
        credits: answered.flatMap((list) => list.credits ?? [])
      }
    })

    // The Pool's optional policy: when every active account rests at its usage limit, one saved reset is redeemed.
    const autoRedeemRound = Effect.gen(function*() {
      yield* repo.prune
      for (const poolId of yield* repo.exhaustedAutoPools) {
        const outcome = yield* Effect.either(redeemForPool(poolId, newId("rdm"), "auto"))
        if (Either.isLeft(outcome)) {
          yield* Effect.logWarning("automatic reset redemption failed").pipe(
            Effect.annotateLogs({ poolId, error: outcome.left.message })
          )
        } else if (outcome.right.accountId !== null) {
          yield* Effect.logInfo("saved reset redeemed for an exhausted pool").pipe(
            Effect.annotateLogs({ poolId, accountId: outcome.right.accountId, code: outcome.right.code })
          )
        }
      }
    }).pipe(Effect.provideService(Actor, { kind: "system", id: "auto_redeem" }))

    return { redeemAccount, redeemForPool, listForPool, autoRedeemRound } as const
  }),
  dependencies: [
    RedemptionsRepo.Default,
    AccountCredentials.Default,
    AccountHealth.Default,
    Quota.Default,
    AuditLog.Default,
    Metrics.Default
  ]
}) {}

// The automatic policy's loop: as often as a resting account's usage is asked (at most every 15 s), so a Pool whose
// accounts are all exhausted gets its reset soon after the last one rested.
export const autoRedeemLayer = Layer.scopedDiscard(Effect.gen(function*() {
  const pollSeconds = yield* UsagePollSeconds
  if (pollSeconds === 0) return
  const resetCredits = yield* ResetCredits
  yield* forkLoop(
    "automatic reset redemption",
    resetCredits.autoRedeemRound,
    Schedule.spaced(Duration.seconds(Math.min(15, pollSeconds)))
  )
})).pipe(Layer.provide(ResetCredits.Default))
