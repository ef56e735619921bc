import { Clock, Effect, Either, Exit, Fiber, Stream } from "effect"
import { AccountCredentials } from "../AccountCredentials.ts"
import { AccountHealth } from "../AccountHealth.ts"
import type { Accounting } from "../Accounting.ts"
import { AccountSelector } from "../AccountSelector.ts"
import { FailoverBudgetMs } from "../Config.ts"
import { UpstreamClient } from "../UpstreamClient.ts"
import { NoAccountAvailable, type UpstreamUnavailable } from "./Errors.ts"
import { accountHeaders } from "./Headers.ts"
import { readSmallBody } from "./Json.ts"
import { errorCodeOf } from "./SseTap.ts"

export interface Attempted {
  readonly accountId: string
  // The account that owned the request's session when it arrived.
  readonly owner: string | null
  readonly attempt: number
  readonly response: UpstreamClient.Response
}

export interface FirstAttempt {
  readonly attempt: number
  readonly accountId: string
}

export interface ForwardPlan {
  readonly requestId: string
  // Writes the request's row, forked, together with its first attempt's (null: no attempt was made); null when the
  // row was written already (a counted key's admission writes it).
  readonly open: ((first: FirstAttempt | null) => Effect.Effect<Fiber.RuntimeFiber<void>>) | null
  readonly poolId: string
  readonly turnStateKey: string | null
  readonly threadKey: string | null
  // Compact and other hard-pinned requests go to the owning account or nowhere.
  readonly pinned: boolean
  readonly request: UpstreamClient.Request
  readonly accounting: Accounting
}

const maxAccounts = 3

// Worth another account, as long as nothing has reached the client: limits, overload, server errors.
const failsOver = (status: number) => status === 429 || status >= 500

// A refused answer is read (it is small; at most the error-body bound) so it can be judged, and replayed if it is
// the last word.
const buffered = (response: UpstreamClient.Response) =>
  Effect.map(readSmallBody(response.body), ({ bytes, json }) => ({
    response: { ...response, body: Stream.make(new Uint8Array(bytes)) },
    json
  }))

// select → prepare → forward, until an account answers. A 401 refreshes that account's token once and retries it;
// a limit, an overload, a server error or an unreachable upstream moves the request to the next eligible account
// (never for pinned requests), within an attempt bound and a time budget. Nothing has reached the client yet, so none
// of this is visible to it.
export const makeForward = Effect.gen(function*() {
  const selector = yield* AccountSelector
  const credentials = yield* AccountCredentials
  const health = yield* AccountHealth
  const upstream = yield* UpstreamClient
  const budgetMs = yield* FailoverBudgetMs
  return (plan: ForwardPlan) => {
    let unopened = plan.open
    // The attempt row is written while the request travels; it is in place before anything depends on it. The
    // first one carries the request's own row.
    const recordAttempt = (attempt: number, accountId: string) => {
      const open = unopened
      unopened = null
      return open === null
        ? Effect.fork(plan.accounting.attempt(plan.requestId, attempt, accountId))
        : open({ attempt, accountId })
    }
    // A request refused or left before any attempt still has its row, which its guard then closes.
    const openUnattempted = Effect.suspend(() => {
      const open = unopened
      unopened = null
      return open === null ? Effect.void : Effect.flatMap(open(null), Fiber.join)
    })
    return Effect.gen(function*() {
      const startedAt = yield* Clock.currentTimeMillis
      const endAttempt = (
        attempt: number,
        httpStatus: number | null,
        errorCode: string,
        outcome: "retried" | "failed"
      ) => plan.accounting.endAttempt({ requestId: plan.requestId, attempt, httpStatus, errorCode, outcome })
      const exclude: Array<string> = []
      let attempt = 0
      let owner: string | null = null
      let last: Attempted | UpstreamUnavailable | undefined
      while (exclude.length < maxAccounts) {
        // Another account is tried only within the budget: past it, the last answer is the answer.
        if (last !== undefined && (yield* Clock.currentTimeMillis) - startedAt > budgetMs) break
        const next = yield* Effect.either(selector.select({ ...plan, exclude }))
        if (Either.isLeft(next)) {
          if (last === undefined || next.left._tag === "PoolExhausted") return yield* next.left
          return "response" in last ? last : yield* last
        }
        const accountId = next.right.accountId
        if (exclude.length === 0) owner = next.right.owner
        let credential = yield* Effect.either(credentials.get(accountId))
        for (let tries = 0; credential._tag === "Right" && tries < 2; tries++) {
          attempt++
          const recorded = yield* recordAttempt(attempt, accountId)
          const sent = yield* Effect.either(
            upstream.send({
              ...plan.request,
              headers: { ...plan.request.headers, ...accountHeaders(credential.right) }
            }).pipe(Effect.ensuring(Fiber.join(recorded)))
          )
          if (Either.isLeft(sent)) {
            yield* health.recordFailure(accountId, `upstream_${sent.left.reason}`)
            yield* endAttempt(attempt, null, `upstream_${sent.left.reason}`, "retried")
            last = sent.left
            break
          }
          const response = sent.right
          if (response.status === 401) {
            yield* Stream.runDrain(response.body).pipe(Effect.orElse(() => Effect.void))
            yield* endAttempt(attempt, 401, "upstream_unauthorized", tries === 0 ? "retried" : "failed")
            if (tries === 0) {
              credential = yield* Effect.either(
                credentials.refreshAfterUnauthorized(accountId, credential.right.version)
              )
            }
            continue
          }
          if (!failsOver(response.status)) {
            if (response.status < 400) yield* health.recordSuccess(accountId)
            return { accountId, owner, attempt, response } satisfies Attempted
          }
          const refused = yield* buffered(response)
          yield* health.observeError(
            accountId,
            refused.json,
            response.status === 429 ? response.headers["retry-after"] : undefined
          )
          if (response.status >= 500) yield* health.recordFailure(accountId, errorCodeOf(refused.json))
          last = { accountId, owner, attempt, response: refused.response }
          if (plan.pinned) return last
          yield* endAttempt(attempt, response.status, errorCodeOf(refused.json), "retried")
          break
        }
        if (plan.pinned) break
        exclude.push(accountId)
      }
      if (last !== undefined) return "response" in last ? last : yield* last
      return yield* new NoAccountAvailable({ reason: "none_eligible" })
    }).pipe(Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : openUnattempted))
  }
})
