import { Clock, Effect, FiberSet } from "effect"
import { Journal } from "./Accounting/Journal.ts"
import type { AttemptEnd, Started } from "./Accounting/RequestsRepo.ts"
import type { Usage } from "./Accounting/Usage.ts"
import { Instances } from "./Instances.ts"
import { Metrics } from "./Metrics.ts"

export interface RequestOutcome {
  readonly accountId: string | null
  readonly status: "succeeded" | "failed" | "cancelled"
  readonly httpStatus: number | null
  readonly errorCode: string | null
  readonly firstByteAt: Date | null
  readonly usage: Usage | null
  readonly upstreamRequestId: string | null
}

const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

const staleAfterMs = 24 * 60 * 60 * 1000

// What happened to each request: metadata, timings and token counts only — never a body, a prompt or an output.
export class Accounting extends Effect.Service<Accounting>()("Gateway/Accounting", {
  scoped: Effect.gen(function*() {
    const journal = yield* Journal
    const metrics = yield* Metrics
    const instance = yield* Instances
    // What the end of each request this instance started needs for its metrics.
    const open = new Map<string, { readonly route: string; readonly transport: string; readonly startedAt: number }>()
    // Writes that follow a response run beside it rather than in front of its last byte; shutdown waits for them.
    const pending = yield* FiberSet.make()
    yield* Effect.addFinalizer(() => FiberSet.awaitEmpty(pending))
    const background = <A, E>(effect: Effect.Effect<A, E>) => FiberSet.run(pending, effect).pipe(Effect.asVoid)

    // An entry whose request never finished (a bug on some path) is dropped after the time UsageRepo stops counting
    // its row as in flight, so the map and the in-flight gauge stay bounded whatever happens. Entries are in start
    // order: the scan stops at the first fresh one.
    const dropStale = (nowMs: number) => {
      const stale = []
      for (const [id, started] of open) {
        if (nowMs - started.startedAt < staleAfterMs) break
        open.delete(id)
        stale.push(started)
      }
      return Effect.forEach(stale, (entry) => metrics.requestAbandoned(entry.route, entry.transport), { discard: true })
    }

    // The row first: a start that fails leaves nothing behind here. With `first`, the request's first attempt is
    // written in the same statement.
    const start = Effect.fnUntraced(function*(
      request: Omit<Started, "startedAt" | "instanceId">,
      first?: { readonly attempt: number; readonly accountId: string }
    ) {
      const startedAt = yield* now
      yield* journal.start(
        { ...request, startedAt, instanceId: instance.id },
        first === undefined ? undefined : { requestId: request.id, ...first, startedAt }
      )
      yield* dropStale(startedAt.getTime())
      open.set(request.id, { route: request.route, transport: request.transport, startedAt: startedAt.getTime() })
      yield* metrics.requestStarted(request.route, request.transport)
    })

    const ended = (requestId: string, outcome: RequestOutcome, endedAt: Date) => {
      const started = open.get(requestId)
      if (started === undefined) return Effect.void
      open.delete(requestId)
      return metrics.requestEnded({
        route: started.route,
        transport: started.transport,
        outcome: outcome.status,
        seconds: (endedAt.getTime() - started.startedAt) / 1000,
        firstByteSeconds: outcome.firstByteAt === null
          ? null
          : Math.max(0, outcome.firstByteAt.getTime() - started.startedAt) / 1000,
        tokens: {
          input: outcome.usage?.inputTokens ?? null,
          cached_input: outcome.usage?.cachedInputTokens ?? null,
          output: outcome.usage?.outputTokens ?? null,
          reasoning: outcome.usage?.reasoningTokens ?? null
        }
      })
    }

    const attempt = Effect.fnUntraced(function*(requestId: string, attempt: number, accountId: string) {
      yield* journal.attempt({ requestId, attempt, accountId, startedAt: yield* now })
    })

    const endAttempt = Effect.fnUntraced(function*(end: Omit<AttemptEnd, "endedAt">) {
      yield* journal.end({ finished: null, attempt: { ...end, endedAt: yield* now } }).pipe(
        Effect.ensuring(metrics.attemptEnded(end.outcome))
      )
    })

    const finished = (requestId: string, outcome: RequestOutcome) =>
      Effect.map(now, (endedAt) => ({
        id: requestId,
        accountId: outcome.accountId,
        status: outcome.status,
        httpStatus: outcome.httpStatus,
        errorCode: outcome.errorCode,
        firstByteAt: outcome.firstByteAt,
        endedAt,
        inputTokens: outcome.usage?.inputTokens ?? null,
        cachedInputTokens: outcome.usage?.cachedInputTokens ?? null,
        outputTokens: outcome.usage?.outputTokens ?? null,
        reasoningTokens: outcome.usage?.reasoningTokens ?? null,
        totalTokens: outcome.usage?.totalTokens ?? null,
        upstreamRequestId: outcome.upstreamRequestId
      }))

    // The row is written first and the metrics follow whatever the write did: neither can keep the other from
    // happening, so a request never stays open here or in the in-flight gauge.
    const finish = Effect.fnUntraced(function*(requestId: string, outcome: RequestOutcome) {
      const row = yield* finished(requestId, outcome)
      yield* journal.end({ finished: row, attempt: null }).pipe(Effect.ensuring(ended(requestId, outcome, row.endedAt)))
    })

    // The request's last attempt and its outcome, written together.
    const complete = Effect.fnUntraced(
      function*(requestId: string, attempt: number, outcome: RequestOutcome) {
        const row = yield* finished(requestId, outcome)
        yield* journal.end({
          finished: row,
          attempt: {
            requestId,
            attempt,
            endedAt: row.endedAt,
            httpStatus: outcome.httpStatus,
            errorCode: outcome.errorCode,
            outcome: outcome.status
          }
        }).pipe(
          Effect.ensuring(Effect.zipRight(ended(requestId, outcome, row.endedAt), metrics.attemptEnded(outcome.status)))
        )
      }
    )

    return { start, attempt, endAttempt, finish, complete, background } as const
  }),
  dependencies: [Journal.Default, Metrics.Default, Instances.Default]
}) {}
