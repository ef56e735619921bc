import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import { AccountCredentials } from "./AccountCredentials.ts"
import { AccountHealth } from "./AccountHealth.ts"
import { poolAccountId } from "./Domain/PoolSignIn.ts"
import { PoolAuth } from "./PoolAuth.ts"
import { NoAccountAvailable, UpstreamUnavailable } from "./Proxy/Errors.ts"
import { isObject } from "./Proxy/JsonObject.ts"
import { Quota } from "./Quota.ts"
import { askUsage, keepUsage } from "./Quota/AskUsage.ts"
import { RoutingView } from "./RoutingView.ts"
import { UpstreamClient } from "./UpstreamClient.ts"

// Who the answer is about upstream: one account of the Pool, which the key holder is not. Codex treats these as
// optional (backend-client's usage payload) and uses them only to tell its own user's usage from someone else's.
const accountIdentity = new Set(["user_id", "account_id", "email"])

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

    return { answer, accountsCheck } as const
  }),
  dependencies: [
    PoolAuth.Default,
    RoutingView.Default,
    AccountCredentials.Default,
    Quota.Default,
    AccountHealth.Default
  ]
}) {}
