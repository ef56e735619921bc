import { Cause, Effect, Exit, Option } from "effect"
import type { Accounting, RequestOutcome } from "../../Accounting.ts"
import { failureOf } from "../../Accounting/Outcome.ts"
import { newId } from "../../Domain/Ids.ts"
import { parseJson } from "../Json.ts"
import { errorCodeOf } from "../SseTap.ts"
import type { Closed } from "./Frames.ts"
import { UpgradeRefused } from "./Upstream.ts"

export interface Join {
  readonly poolId: string
  readonly keyId: string
  readonly accountId: string
}

// The close codes of a call's control channel that ends as it should; any other is a failure.
const normalCloses = new Set([1000, 1001, 1005])

const outcomeOf = (
  exit: Exit.Exit<unknown, unknown>,
  closed: Closed | null
): Pick<RequestOutcome, "status" | "errorCode" | "httpStatus"> => {
  if (Exit.isFailure(exit)) {
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure) && failure.value instanceof UpgradeRefused) {
      const { body, status } = failure.value
      return { status: "failed", errorCode: errorCodeOf(parseJson(body)), httpStatus: status }
    }
    return { ...failureOf(exit.cause), httpStatus: null }
  }
  if (closed === null) return { status: "cancelled", errorCode: "client_closed", httpStatus: 101 }
  if (closed.by === "gateway") return { status: "cancelled", errorCode: "gateway_closed", httpStatus: 101 }
  if (normalCloses.has(closed.code)) return { status: "succeeded", errorCode: null, httpStatus: 101 }
  return { status: "failed", errorCode: `${closed.by}_closed`, httpStatus: 101 }
}

// A sideband join's one request row (route realtime_sideband): written before upstream is asked, on the call's
// account, and closed when the connection's scope ends — by the socket's close, or by whatever ended it first (a
// refused upgrade, a failure, the gateway stopping). Its time is the socket's life; it counts no tokens (upstream
// reports a call's usage to no one here).
export const openSidebandRow = (accounting: Accounting, join: Join) =>
  Effect.gen(function*() {
    const id = newId("req")
    let upgradedAt: Date | null = null
    let closed: Closed | null = null
    yield* accounting.start(
      { id, poolId: join.poolId, keyId: join.keyId, route: "realtime_sideband", transport: "websocket", model: null },
      { attempt: 1, accountId: join.accountId }
    )
    yield* Effect.addFinalizer((exit) =>
      accounting.complete(id, 1, {
        ...outcomeOf(exit, closed),
        accountId: join.accountId,
        firstByteAt: upgradedAt,
        usage: null,
        upstreamRequestId: null
      }).pipe(
        // A finaliser has nobody to answer: a row that cannot be written (the database gone) is only logged.
        Effect.catchAllCause((cause) => Effect.logWarning("request row could not be closed", cause))
      )
    )
    return {
      upgraded: () => void (upgradedAt = new Date()),
      closed: (how: Closed) => void (closed = how)
    } as const
  })
