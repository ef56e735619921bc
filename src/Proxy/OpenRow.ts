import { Effect, Exit } from "effect"
import type { Accounting, RequestOutcome } from "../Accounting.ts"
import { failureOf } from "../Accounting/Outcome.ts"
import type { UpstreamClient } from "../UpstreamClient.ts"

// A success here is a response whose relay never ran: the client left before its body was sent.
const endOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit) ? { status: "cancelled", errorCode: "client_closed" } as const : failureOf(exit.cause)

interface Forwarded {
  readonly attempt: number
  readonly accountId: string
  readonly response: UpstreamClient.Response
}

// A request row from its start until the relay takes it. Whoever ends the request first closes the row, once: the
// relay's end, or whatever ended it before the relay ran (a refusal, a database error, a defect, the client leaving
// between forward and relay). An upstream body nobody read is released by the request's scope (UpstreamClient.send).
export const makeOpenRow = (accounting: Accounting, requestId: string) => {
  let started = false
  let closed = false
  let recorded: Effect.Effect<void, unknown> = Effect.void
  let forwarded: Forwarded | undefined

  const close = (exit: Exit.Exit<unknown, unknown>) =>
    Effect.suspend(() => {
      const upstream = forwarded
      const open = started && !closed
      closed = true
      const outcome: RequestOutcome = {
        ...endOf(exit),
        accountId: upstream?.accountId ?? null,
        httpStatus: upstream?.response.status ?? null,
        firstByteAt: null,
        usage: null,
        upstreamRequestId: upstream?.response.headers["x-request-id"] ?? null
      }
      const finish = upstream === undefined
        ? accounting.finish(requestId, outcome)
        : accounting.complete(requestId, upstream.attempt, outcome)
      return open
        ? Effect.zipRight(Effect.exit(recorded), finish).pipe(
          // A finaliser has nobody to answer: a row that cannot be written (the database gone) is only logged.
          Effect.catchAllCause((cause) => Effect.logWarning("request row could not be closed", cause))
        )
        : Effect.void
    })

  return {
    // Wraps the row's first write: from here on the row is this guard's to close.
    start: <E>(write: Effect.Effect<void, E>) => Effect.zipRight(Effect.sync(() => void (started = true)), write),
    recorded: (effect: Effect.Effect<void, unknown>) => void (recorded = effect),
    forwarded: (value: Forwarded) => void (forwarded = value),
    // The relay's end claims the row; false when it was already closed.
    claim: () => {
      if (closed) return false
      closed = true
      return true
    },
    close
  } as const
}

export type OpenRow = ReturnType<typeof makeOpenRow>
