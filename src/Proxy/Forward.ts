import { Clock, Effect, Either, Exit, Fiber, type Scope, Stream } from "effect"
import { AccountCredentials, type UpstreamCredential } from "../AccountCredentials.ts"
import { AccountHealth } from "../AccountHealth.ts"
import type { Accounting } from "../Accounting.ts"
import { AccountSelector } from "../AccountSelector.ts"
import { FailoverBudgetMs } from "../Config.ts"
import { UpstreamClient } from "../UpstreamClient.ts"
import { NoAccountAvailable, type UpstreamUnavailable } from "./Errors.ts"
import { accountHeaders } from "./Headers.ts"
import { readSmallBody } from "./Json.ts"
import { errorCodeOf } from "./SseTap.ts"

export interface Attempted<A = UpstreamClient.Response> {
  readonly accountId: string
  // The account that owned the request's session when it arrived.
  readonly owner: string | null
  readonly attempt: number
  readonly response: A
}

export interface FirstAttempt {
  readonly attempt: number
  readonly accountId: string
}

// How one transport tries one account: HTTP sends the request; a websocket opens its upstream socket, whose refused
// upgrade is an answer like any other.
export interface Transport<A> {
  readonly send: (credential: UpstreamCredential) => Effect.Effect<A, UpstreamUnavailable, Scope.Scope>
  readonly status: (answer: A) => number
  readonly retryAfter: (answer: A) => string | undefined
  // A refused answer read whole (it is small; at most the error-body bound) so it can be judged, and replayed if it
  // is the last word.
  readonly settle: (answer: A) => Effect.Effect<{ readonly answer: A; readonly json: unknown }>
  // An answer let go unread (a 401, before the same account is tried again with a fresh token).
  readonly discard: (answer: A) => Effect.Effect<void>
}

// Where the attempts of a request are written down: a request's rows over HTTP; nothing for a websocket's upstream
// socket, whose responses are each accounted as they are admitted.
export interface AttemptLog {
  // Writes the attempt's row, forked: in place before anything depends on it.
  readonly attempt: (attempt: number, accountId: string) => Effect.Effect<Fiber.RuntimeFiber<void>>
  readonly end: (
    attempt: number,
    httpStatus: number | null,
    errorCode: string,
    outcome: "retried" | "failed"
  ) => Effect.Effect<void>
  // A request refused or left before any attempt still has its row, which its guard then closes.
  readonly unattempted: Effect.Effect<void>
}

export const noAttemptLog: AttemptLog = {
  attempt: () => Effect.fork(Effect.void),
  end: () => Effect.void,
  unattempted: Effect.void
}

export interface Route {
  readonly poolId: string
  readonly turnStateKey: string | null
  readonly threadKey: string | null
  // Compact and other hard-pinned requests go to the owning account or nowhere.
  readonly pinned: boolean
}

export interface ForwardPlan extends Route {
  readonly requestId: string
  // Writes the request's row, forked, together with its first attempt's (null: no attempt was made); null when the
  // row was written already (a counted key's admission writes it).
  readonly open: ((first: FirstAttempt | null) => Effect.Effect<Fiber.RuntimeFiber<void>>) | null
  readonly request: UpstreamClient.Request
  readonly accounting: Accounting
}

const maxAccounts = 3

// Worth another account, as long as nothing has reached the client: limits, overload, server errors.
const failsOver = (status: number) => status === 429 || status >= 500

// select → prepare → forward, until an account answers, for either transport. A 401 refreshes that account's token
// once and retries it; a limit, an overload, a server error or an unreachable upstream moves the request to the next
// eligible account (never for pinned requests), within an attempt bound and a time budget. Nothing has reached the
// client yet, so none of this is visible to it.
export const makeFailover = Effect.gen(function*() {
  const selector = yield* AccountSelector
  const credentials = yield* AccountCredentials
  const health = yield* AccountHealth
  const budgetMs = yield* FailoverBudgetMs
  return <A>(route: Route, transport: Transport<A>, log: AttemptLog) =>
    Effect.gen(function*() {
      const startedAt = yield* Clock.currentTimeMillis
      const exclude: Array<string> = []
      let attempt = 0
      let owner: string | null = null
      let last: Attempted<A> | UpstreamUnavailable | undefined
      while (exclude.length < maxAccounts) {
        // Another account is tried only within the budget: past it, the last answer is the answer.
        if (last !== undefined && (yield* Clock.currentTimeMillis) - startedAt > budgetMs) break
        const next = yield* Effect.either(selector.select({ ...route, exclude }))
        if (Either.isLeft(next)) {
          if (last === undefined || next.left._tag === "PoolExhausted") return yield* next.left
          return "response" in last ? last : yield* last
        }
        const accountId = next.right.accountId
        if (exclude.length === 0) owner = next.right.owner
        let credential = yield* Effect.either(credentials.get(accountId))
        for (let tries = 0; credential._tag === "Right" && tries < 2; tries++) {
          attempt++
          const recorded = yield* log.attempt(attempt, accountId)
          const sent = yield* Effect.either(
            transport.send(credential.right).pipe(Effect.ensuring(Fiber.join(recorded)))
          )
          if (Either.isLeft(sent)) {
            yield* health.recordFailure(accountId, `upstream_${sent.left.reason}`)
            yield* log.end(attempt, null, `upstream_${sent.left.reason}`, "retried")
            last = sent.left
            break
          }
          const status = transport.status(sent.right)
          if (status === 401) {
            yield* transport.discard(sent.right)
            yield* log.end(attempt, 401, "upstream_unauthorized", tries === 0 ? "retried" : "failed")
            if (tries === 0) {
              credential = yield* Effect.either(
                credentials.refreshAfterUnauthorized(accountId, credential.right.version)
              )
            }
            continue
          }
          if (!failsOver(status)) {
            if (status < 400) yield* health.recordSuccess(accountId)
            return { accountId, owner, attempt, response: sent.right } satisfies Attempted<A>
          }
          const refused = yield* transport.settle(sent.right)
          yield* health.observeError(
            accountId,
            refused.json,
            status === 429 ? transport.retryAfter(sent.right) : undefined
          )
          if (status >= 500) yield* health.recordFailure(accountId, errorCodeOf(refused.json))
          last = { accountId, owner, attempt, response: refused.answer }
          if (route.pinned) return last
          yield* log.end(attempt, status, errorCodeOf(refused.json), "retried")
          break
        }
        if (route.pinned) break
        exclude.push(accountId)
      }
      if (last !== undefined) return "response" in last ? last : yield* last
      return yield* new NoAccountAvailable({ reason: "none_eligible" })
    }).pipe(Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : log.unattempted))
})

// HTTP's transport: the request sent through undici; a refused body is buffered so it can be replayed.
const httpTransport = (
  upstream: UpstreamClient.Service,
  request: UpstreamClient.Request
): Transport<UpstreamClient.Response> => ({
  send: (credential) => upstream.send({ ...request, headers: { ...request.headers, ...accountHeaders(credential) } }),
  status: (response) => response.status,
  retryAfter: (response) => response.headers["retry-after"],
  settle: (response) =>
    Effect.map(readSmallBody(response.body), ({ bytes, json }) => ({
      answer: { ...response, body: Stream.make(new Uint8Array(bytes)) },
      json
    })),
  discard: (response) => Stream.runDrain(response.body).pipe(Effect.orElse(() => Effect.void))
})

// An HTTP request's failover, its attempts written as its rows: the first carries the request's own row.
export const makeForward = Effect.gen(function*() {
  const failover = yield* makeFailover
  const upstream = yield* UpstreamClient
  return (plan: ForwardPlan) => {
    let unopened = plan.open
    const take = () => {
      const open = unopened
      unopened = null
      return open
    }
    const log: AttemptLog = {
      attempt: (attempt, accountId) => {
        const open = take()
        return open === null
          ? Effect.fork(plan.accounting.attempt(plan.requestId, attempt, accountId))
          : open({ attempt, accountId })
      },
      end: (attempt, httpStatus, errorCode, outcome) =>
        plan.accounting.endAttempt({ requestId: plan.requestId, attempt, httpStatus, errorCode, outcome }),
      unattempted: Effect.suspend(() => {
        const open = take()
        return open === null ? Effect.void : Effect.flatMap(open(null), Fiber.join)
      })
    }
    return failover(plan, httpTransport(upstream, plan.request), log)
  }
})
