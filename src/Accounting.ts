import { Clock, Effect } from "effect"
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
  effect: Effect.gen(function*() {
    const repo = yield* RequestsRepo

    const start = Effect.fn("Accounting.start")(function*(request: Omit<Started, "startedAt">) {
      yield* repo.start({ ...request, startedAt: yield* now })
    })

    const attempt = Effect.fn("Accounting.attempt")(function*(requestId: string, attempt: number, accountId: string) {
      yield* repo.startAttempt({ requestId, attempt, accountId, startedAt: yield* now })
    })

    const endAttempt = Effect.fn("Accounting.endAttempt")(function*(end: Omit<AttemptEnd, "endedAt">) {
      yield* repo.endAttempt({ ...end, endedAt: yield* now })
    })

    const finish = Effect.fn("Accounting.finish")(function*(requestId: string, outcome: RequestOutcome) {
      const usage = outcome.usage
      yield* repo.finish({
        id: requestId,
        accountId: outcome.accountId,
        status: outcome.status,
        httpStatus: outcome.httpStatus,
        errorCode: outcome.errorCode,
        firstByteAt: outcome.firstByteAt,
        endedAt: yield* now,
        inputTokens: usage?.inputTokens ?? null,
        cachedInputTokens: usage?.cachedInputTokens ?? null,
        outputTokens: usage?.outputTokens ?? null,
        reasoningTokens: usage?.reasoningTokens ?? null,
        totalTokens: usage?.totalTokens ?? null,
        upstreamRequestId: outcome.upstreamRequestId
      })
    })

    return { start, attempt, endAttempt, finish } as const
  }),
  dependencies: [RequestsRepo.Default]
}) {}
