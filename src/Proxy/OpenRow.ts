import { Duration, Effect, Exit, Stream } from "effect"
import type { Accounting, RequestOutcome } from "../Accounting.ts"
import { failureOf } from "../Accounting/Outcome.ts"
import type { UpstreamClient } from "../UpstreamClient.ts"

// A success here is a response whose relay never ran: the client left before its body was sent.
const endOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit) ? { status: "cancelled", errorCode: "client_closed" } as const : failureOf(exit.cause)

// An unread upstream body holds its connection until it is read or destroyed; reading it destroys it at its end,
// interrupting the read destroys it at once.
const releaseWithin = Duration.millis(100)
const release = (response: UpstreamClient.Response) =>
  Stream.runHead(response.body).pipe(Effect.interruptible, Effect.timeout(releaseWithin), Effect.exit, Effect.asVoid)

interface Forwarded {
  readonly attempt: number
  readonly accountId: string
  readonly response: UpstreamClient.Response
}

// A request row from its start until the relay takes it. Whoever ends the request first closes the row, once: the
// relay's end, or whatever ended it before the relay ran (a refusal, a database error, a defect, the client leaving
// between forward and relay), which also releases an upstream body nobody read.
export const makeOpenRow = (accounting: Accounting, requestId: string) => {
  let started = false
  let closed = false
  let recorded: Effect.Effect<void, unknown> = Effect.void
  let forwarded: Forwarded | undefined
  let bodyTaken = false

  const close = (exit: Exit.Exit<unknown, unknown>) =>
    Effect.suspend(() => {
      const upstream = forwarded
      const unread = upstream !== undefined && !bodyTaken
      const open = started && !closed
      bodyTaken = true
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
      return Effect.all([
        unread ? release(upstream.response) : Effect.void,
        open
          ? Effect.zipRight(Effect.exit(recorded), finish).pipe(
            // A finaliser has nobody to answer: a row that cannot be written (the database gone) is only logged.
            Effect.catchAllCause((cause) => Effect.logWarning("request row could not be closed", cause))
          )
          : Effect.void
      ], { concurrency: "unbounded", discard: true })
    })

  return {
    // Wraps the row's first write: from here on the row is this guard's to close.
    start: <E>(write: Effect.Effect<void, E>) => Effect.zipRight(Effect.sync(() => void (started = true)), write),
    recorded: (effect: Effect.Effect<void, unknown>) => void (recorded = effect),
    forwarded: (value: Forwarded) => void (forwarded = value),
    // The body the relay reads: once it runs, the relay's own end releases it.
    body: (response: UpstreamClient.Response) =>
      Stream.suspend(() => {
        bodyTaken = true
        return response.body
      }),
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
