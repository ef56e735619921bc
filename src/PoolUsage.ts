import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option, ParseResult, Schema } from "effect"
import { AccountCredentials } from "./AccountCredentials.ts"
import { AccountHealth } from "./AccountHealth.ts"
import { Actor } from "./Domain/Actor.ts"
import { poolAccountId } from "./Domain/PoolSignIn.ts"
import { PoolAuth } from "./PoolAuth.ts"
import { readRequestBody } from "./Proxy/Body.ts"
import { InvalidBody, NoAccountAvailable, RedemptionConflict, UpstreamUnavailable } from "./Proxy/Errors.ts"
import { isObject } from "./Proxy/JsonObject.ts"
import { Quota } from "./Quota.ts"
import { askUsage, keepUsage } from "./Quota/AskUsage.ts"
import { ResetCredits } from "./ResetCredits.ts"
import { RoutingView } from "./RoutingView.ts"
import { UpstreamClient } from "./UpstreamClient.ts"

// Who the answer is about upstream: one account of the Pool, which the key holder is not. Codex treats these as
// optional (backend-client's usage payload) and uses them only to tell its own user's usage from someone else's.
const accountIdentity = new Set(["user_id", "account_id", "email"])

// Codex's redemption call (backend-client's ConsumeRateLimitResetCreditRequest). Its id is Codex's own (a UUID): held
// to a short token. A `credit_id` names a credit of one account; the Pool picks the account, so it is not passed on.
const ConsumeRequest = Schema.Struct({
  redeem_request_id: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9._:-]{1,128}$/)),
  credit_id: Schema.optional(Schema.String)
})
const decodeConsumeRequest = Schema.decodeUnknown(ConsumeRequest)
const consumeBodyLimit = 16 * 1024

// The Pool's usage in Codex's own shape (GET {chatgpt_base_url}/wham/usage, or /api/codex/usage): the answer of the
// account a new request would be routed to — so a client reading it sees capacity while the Pool has any — and, when
// every account rests at its limit, of the one whose limit resets first, which is the Pool's earliest reset. What it
// says is kept as that account's fresh quota and saved resets, as a poll's would be. Asking moves nobody's turn.
export class PoolUsage extends Effect.Service<PoolUsage>()("Gateway/PoolUsage", {
  effect: Effect.gen(function*() {
    const auth = yield* PoolAuth
    const view = yield* RoutingView
    const credentials = yield* AccountCredentials
    const upstream = yield* UpstreamClient
    const quota = yield* Quota
    const health = yield* AccountHealth
    const resetCredits = yield* ResetCredits

    const answer = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const key = yield* auth.authenticate(request.headers)
      const next = yield* view.peek(key.poolId)
      if (next === undefined) return yield* new NoAccountAvailable({ reason: "empty_pool" })
      const asked = yield* askUsage(credentials, upstream, next.account.id)
      yield* keepUsage(quota, health, next.account.id, asked)
      if (!isObject(asked.json) || Option.isNone(asked.report)) {
        return yield* new UpstreamUnavailable({ reason: `usage_http_${asked.status}` })
      }
      const pooled = Object.fromEntries(Object.entries(asked.json).filter(([name]) => !accountIdentity.has(name)))
      return HttpServerResponse.unsafeJson(pooled, { headers: { "cache-control": "no-store" } })
    })

    // Codex signed in with the Pool key (`key auth-json`) first asks which workspace its account lives in
    // (GET {chatgpt_base_url}wham/accounts/check, codex-protocol.md §10.6): the Pool's stand-in account, with no
    // residency constraint, so its calls stay on this base.
    const accountsCheck = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      yield* auth.authenticate(request.headers)
      return HttpServerResponse.unsafeJson({
        accounts: [{
          id: poolAccountId,
          plan_type: "pro",
          workspace_backend_origin: "NO_CONSTRAINT",
          account_routing_override: "NO_CONSTRAINT",
          name: null,
          profile_picture_url: null,
          structure: "personal"
        }],
        account_ordering: [poolAccountId],
        default_account_id: poolAccountId
      }, { headers: { "cache-control": "no-store" } })
    })

    const noStore = { headers: { "cache-control": "no-store" } }

    // GET {chatgpt_base_url}wham/rate-limit-reset-credits: the saved resets of the Pool's accounts, in one list.
    const resetCreditList = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const key = yield* auth.authenticate(request.headers)
      return HttpServerResponse.unsafeJson(yield* resetCredits.listForPool(key.poolId), noStore)
    })

    // POST {chatgpt_base_url}wham/rate-limit-reset-credits/consume: one saved reset redeemed for the Pool, on the
    // account that most needs it, answered in upstream's shape ({code, windows_reset}).
    const consumeResetCredit = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const key = yield* auth.authenticate(request.headers)
      const body = yield* readRequestBody(request, "object", consumeBodyLimit)
      const consume = yield* decodeConsumeRequest(body.json).pipe(
        Effect.mapError((error) =>
          new InvalidBody({ message: `invalid redemption: ${ParseResult.TreeFormatter.formatErrorSync(error)}` })
        )
      )
      const redeemed = yield* resetCredits.redeemForPool(key.poolId, consume.redeem_request_id, "codex").pipe(
        Effect.provideService(Actor, { kind: "pool_key", id: key.keyId }),
        Effect.catchTags({
          RedemptionRefused: (refused) => new RedemptionConflict({ message: refused.message }),
          RedemptionFailed: (failed) => new UpstreamUnavailable({ reason: `redemption_${failed.reason}` })
        })
      )
      return HttpServerResponse.unsafeJson({ code: redeemed.code, windows_reset: redeemed.windowsReset }, noStore)
    })

    return { answer, accountsCheck, resetCreditList, consumeResetCredit } as const
  }),
  dependencies: [
    PoolAuth.Default,
    RoutingView.Default,
    AccountCredentials.Default,
    Quota.Default,
    AccountHealth.Default,
    ResetCredits.Default
  ]
}) {}
