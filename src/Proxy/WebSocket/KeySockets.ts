import { Effect } from "effect"
import { OpenWebSocketsExceeded } from "../Errors.ts"

// Open client websockets per Pool key on this instance. Each one holds an upstream socket on an account for as long
// as Codex keeps its session, so a key may hold at most `maxPerKey`, and no more than its max-concurrent limit when
// it has one: a key allowed one stream at a time has no use for a second socket, and Codex falls back to HTTP.
export const makeKeySockets = (maxPerKey: number) => {
  const open = new Map<string, number>()

  const release = (keyId: string) =>
    Effect.sync(() => {
      const left = (open.get(keyId) ?? 1) - 1
      if (left <= 0) open.delete(keyId)
      else open.set(keyId, left)
    })

  const reserve = (keyId: string, maxConcurrent: number | null) =>
    Effect.acquireRelease(
      Effect.suspend(() => {
        const limit = Math.min(maxPerKey, maxConcurrent ?? maxPerKey)
        const count = open.get(keyId) ?? 0
        if (count >= limit) return Effect.fail(new OpenWebSocketsExceeded({ limit }))
        open.set(keyId, count + 1)
        return Effect.void
      }),
      () => release(keyId)
    )

  return { reserve } as const
}
