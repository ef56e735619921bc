import { Cause, Option } from "effect"
import type { RequestOutcome } from "../Accounting.ts"

const snakeCase = (tag: string) =>
  tag.replace(/[A-Z]/g, (letter, index) => `${index === 0 ? "" : "_"}${letter.toLowerCase()}`)

const tagOf = (error: unknown) =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : "Defect"

// A request that ended without a relayed answer: cancelled when the client went away, else failed with the error's
// tag (no_account_available, upstream_unavailable, …) or `defect`.
export const failureOf = (cause: Cause.Cause<unknown>): Pick<RequestOutcome, "status" | "errorCode"> =>
  Cause.isInterruptedOnly(cause)
    ? { status: "cancelled", errorCode: "client_closed" }
    : {
      status: "failed",
      errorCode: Option.match(Cause.failureOption(cause), {
        onNone: () => "defect",
        onSome: (error) => snakeCase(tagOf(error))
      })
    }

// …with nothing learned from upstream.
export const unanswered = (cause: Cause.Cause<unknown>): RequestOutcome => ({
  accountId: null,
  httpStatus: null,
  firstByteAt: null,
  usage: null,
  upstreamRequestId: null,
  ...failureOf(cause)
})
