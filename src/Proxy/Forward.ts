import { Effect, Fiber, Redacted, Stream } from "effect"
import type { Accounting } from "../Accounting.ts"
import { AccountCredentials } from "../AccountCredentials.ts"
import { AccountSelector } from "../AccountSelector.ts"
import { UpstreamClient } from "../UpstreamClient.ts"
import { NoAccountAvailable } from "./Errors.ts"
import { accountHeaders } from "./Headers.ts"

export interface Attempted {
  readonly accountId: string
  // The account that owned the request's session when it arrived.
  readonly owner: string | null
  readonly attempt: number
  readonly response: UpstreamClient.Response
}

export interface ForwardPlan {
  readonly requestId: string
  // Completes once the request row exists; attempt rows refer to it.
  readonly recorded: Effect.Effect<void>
  readonly poolId: string
  readonly turnStateKey: string | null
  readonly threadKey: string | null
  // Compact and other hard-pinned requests go to the owning account or nowhere.
  readonly pinned: boolean
  readonly request: Omit<UpstreamClient.Request, "headers"> & { readonly headers: Readonly<Record<string, string>> }
  readonly accounting: Accounting
}

const maxAccounts = 3

// A refused answer's body is read to the end so its connection can be reused; what it says no longer matters.
const discard = (response: UpstreamClient.Response) => Stream.runDrain(response.body).pipe(Effect.orElse(() => Effect.void))

// select → prepare → forward, until an account answers. An upstream 401 refreshes that account's token once and
// retries it; an account whose credentials cannot be used is skipped. Nothing has reached the client yet.
export const makeForward = Effect.gen(function*() {
  const selector = yield* AccountSelector
  const credentials = yield* AccountCredentials
  const upstream = yield* UpstreamClient
  return (plan: ForwardPlan) => Effect.gen(function*() {
    const endAttempt = (attempt: number, httpStatus: number | null, errorCode: string, outcome: "retried" | "failed") =>
      plan.accounting.endAttempt({ requestId: plan.requestId, attempt, httpStatus, errorCode, outcome })
    const exclude: Array<string> = []
    let attempt = 0
    let owner: string | null = null
    while (exclude.length < maxAccounts) {
      const selected = yield* selector.select({
        poolId: plan.poolId,
        turnStateKey: plan.turnStateKey,
        threadKey: plan.threadKey,
        pinned: plan.pinned,
        exclude
      })
      const accountId = selected.accountId
      if (exclude.length === 0) owner = selected.owner
      yield* plan.recorded
      let credential = yield* Effect.either(credentials.get(accountId))
      for (let tries = 0; credential._tag === "Right" && tries < 2; tries++) {
        attempt++
        // The attempt row is written while the request travels; it is in place before anything depends on it.
        const recorded = yield* Effect.fork(plan.accounting.attempt(plan.requestId, attempt, accountId))
        const response = yield* upstream.send({
          ...plan.request,
          headers: {
            ...plan.request.headers,
            ...accountHeaders({ ...credential.right, accessToken: Redacted.value(credential.right.accessToken) })
          }
        }).pipe(
          Effect.ensuring(Fiber.join(recorded)),
          Effect.tapError((error) => endAttempt(attempt, null, `upstream_${error.reason}`, "failed"))
        )
        if (response.status !== 401) return { accountId, owner, attempt, response } satisfies Attempted
        yield* discard(response)
        yield* endAttempt(attempt, 401, "upstream_unauthorized", tries === 0 ? "retried" : "failed")
        if (tries === 0) {
          credential = yield* Effect.either(credentials.refreshAfterUnauthorized(accountId, credential.right.version))
        }
      }
      if (plan.pinned) break
      exclude.push(accountId)
    }
    return yield* new NoAccountAvailable({ reason: "none_eligible" })
  })
})
