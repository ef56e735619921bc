import type { Fault, FaultKind, StatusFault, StreamFault } from "./Types.ts"

// "tool": the image and search routes (images/generations, images/edits, alpha/search); "reset-credits": the list
// and consume of saved resets
export type Stage = "responses" | "compact" | "ws-upgrade" | "ws-frame" | "refresh" | "usage" | "tool" | "reset-credits"

const statusKinds: ReadonlySet<FaultKind> = new Set<FaultKind>([
  "usage_limit",
  "usage_not_included",
  "plain_429",
  "retryable_429",
  "http_500",
  "unauthorized",
  "overloaded"
])

export const isStatusFault = (fault: Fault): fault is StatusFault => statusKinds.has(fault.kind)

export const isStreamFault = (fault: Fault): fault is StreamFault =>
  fault.kind === "failed_event" || fault.kind === "incomplete" || fault.kind === "disconnect_mid_stream" ||
  fault.kind === "stall"

export const appliesTo = (fault: Fault, stage: Stage): boolean => {
  if (isStatusFault(fault)) {
    if (fault.onResetCredits === true) return stage === "reset-credits"
    return fault.onUpgrade === true
      ? stage === "ws-upgrade"
      : stage === "responses" || stage === "compact" || stage === "ws-frame" || stage === "tool" ||
        (stage === "usage" && fault.onUsage === true)
  }
  // a stall on the reset-credit routes holds the answer back (`ms`, or until `until` settles)
  if (isStreamFault(fault)) {
    return stage === "responses" || stage === "ws-frame" || (fault.kind === "stall" && stage === "reset-credits")
  }
  switch (fault.kind) {
    case "ws_426":
    case "ws_404":
      return stage === "ws-upgrade"
    case "ws_connection_limit":
    case "flood":
      return stage === "ws-frame"
    case "connection_reset":
      return stage === "responses" || stage === "compact" || stage === "tool"
    case "refresh_token_expired":
      return stage === "refresh"
  }
}

interface Entry {
  readonly fault: Fault
  remaining: number
}

// FIFO per account; a request consumes the first queued fault that applies to its stage
export class Faults {
  readonly #queues = new Map<string, Array<Entry>>()

  push(accountId: string, fault: Fault, times = 1): void {
    if (times <= 0) return
    const queue = this.#queues.get(accountId) ?? []
    queue.push({ fault, remaining: times })
    this.#queues.set(accountId, queue)
  }

  take(accountId: string, stage: Stage): Fault | undefined {
    const queue = this.#queues.get(accountId)
    if (queue === undefined) return undefined
    const index = queue.findIndex((entry) => appliesTo(entry.fault, stage))
    const entry = queue[index]
    if (entry === undefined) return undefined
    entry.remaining -= 1
    if (entry.remaining <= 0) queue.splice(index, 1)
    return entry.fault
  }

  pending(accountId: string): ReadonlyArray<{ readonly fault: Fault; readonly remaining: number }> {
    return (this.#queues.get(accountId) ?? []).map((entry) => ({ ...entry }))
  }

  clear(accountId?: string): void {
    if (accountId === undefined) this.#queues.clear()
    else this.#queues.delete(accountId)
  }
}
