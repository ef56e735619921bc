import { Effect } from "effect"
import type { Fault } from "../FakeUpstream/FakeUpstream.ts"

// A stream the test ends itself: the fake holds it after its first event until `release`, however long the
// machine takes to get there (a stall of fixed length ends on the clock, which load can outrun).
export const hold = () => {
  let release: () => void = () => undefined
  const until = new Promise<void>((resolve) => (release = resolve))
  const fault: Fault = { kind: "stall", until }
  return { fault, release: () => release() } as const
}

// The same, released at the latest when the test's scope closes, so a failing test leaves no stream open to hold up
// the gateway's shutdown.
export const held = Effect.acquireRelease(Effect.sync(hold), (stream) => Effect.sync(stream.release))
