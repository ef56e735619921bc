import { Clock, Effect, FiberSet } from "effect"
import type { Usage } from "./Accounting/Usage.ts"
import { type AttemptEnd, RequestsRepo, type Started } from "./Accounting/RequestsRepo.ts"

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

// What happened to each request: metadata, timings and token counts only — never a body, a prompt or an output.
export class Accounting extends Effect.Service<Accounting>()("Gateway/Accounting", {
  scoped: Effect.gen(function*() {
    const repo = yield* RequestsRepo
    // Writes that follow a response run beside it rather than in front of its last byte; shutdown waits for them.
    const pending = yield* FiberSet.make()
    yield* Effect.addFinalizer(() => FiberSet.awaitEmpty(pending))
    const background = <A, E>(effect: Effect.Effect<A, E>) => FiberSet.run(pending, effect).pipe(Effect.asVoid)

    const start = Effect.fn("Accounting.start")(function*(request: Omit<Started, "startedAt">) {
      yield* repo.start({ ...request, startedAt: yield* now })
    })

    const attempt = Effect.fn("Accounting.attempt")(function*(requestId: string, attempt: number, accountId: string) {
      yield* repo.startAttempt({ requestId, attempt, accountId, startedAt: yield* now })
    })

    const endAttempt = Effect.fn("Accounting.endAttempt")(function*(end: Omit<AttemptEnd, "endedAt">) {
      yield* repo.endAttempt({ ...end, endedAt: yield* now })
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

    const finish = Effect.fn("Accounting.finish")(function*(requestId: string, outcome: RequestOutcome) {
      yield* repo.finish(yield* finished(requestId, outcome))
    })

    // The request's last attempt and its outcome, written together.
    const complete = Effect.fn("Accounting.complete")(
      function*(requestId: string, attempt: number, outcome: RequestOutcome) {
        const row = yield* finished(requestId, outcome)
        yield* repo.complete(row, {
          requestId,
          attempt,
          endedAt: row.endedAt,
          httpStatus: outcome.httpStatus,
          errorCode: outcome.errorCode,
          outcome: outcome.status
        })
      }
    )

    return { start, attempt, endAttempt, finish, complete, background } as const
  }),
  dependencies: [RequestsRepo.Default]
}) {}
