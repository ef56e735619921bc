import type { JsonObject } from "./Json.ts"
import type { StreamFault } from "./Types.ts"

export interface EventSink {
  send(event: JsonObject): Promise<void>
  destroy(): void
  readonly gone: Promise<void>
  isGone(): boolean
}

export type PlaybackResult = "completed" | "aborted" | "disconnected"

const sleep = (ms: number): { readonly done: Promise<void>; readonly cancel: () => void } => {
  let timer: NodeJS.Timeout | undefined
  const done = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  return { done, cancel: () => clearTimeout(timer) }
}

const waitOrGone = async (sink: EventSink, ms: number | undefined, until?: Promise<unknown>): Promise<boolean> => {
  if (ms === undefined && until === undefined) {
    await sink.gone
    return false
  }
  const timer = ms === undefined ? undefined : sleep(ms)
  await Promise.race([sink.gone, ...(timer === undefined ? [] : [timer.done]), ...(until === undefined ? [] : [until])])
  timer?.cancel()
  return !sink.isGone()
}

// Sends events in order, applying the stream-shaping faults; "aborted" means the client went away first
export const play = async (
  events: ReadonlyArray<JsonObject>,
  sink: EventSink,
  fault: StreamFault | undefined,
  eventDelayMs: number
): Promise<PlaybackResult> => {
  const cutAfter = fault?.kind === "disconnect_mid_stream" ? Math.max(0, fault.afterEvents ?? 3) : undefined
  for (const [index, event] of events.entries()) {
    if (sink.isGone()) return "aborted"
    if (index === cutAfter) {
      sink.destroy()
      return "disconnected"
    }
    if (index > 0 && eventDelayMs > 0 && !(await waitOrGone(sink, eventDelayMs))) return "aborted"
    await sink.send(event)
    if (index === 0 && fault?.kind === "stall" && !(await waitOrGone(sink, fault.ms, fault.until))) return "aborted"
  }
  if (cutAfter !== undefined) {
    sink.destroy()
    return "disconnected"
  }
  return sink.isGone() ? "aborted" : "completed"
}
