import { Clock, Effect } from "effect"
import type { QuotaWindow } from "./Quota/Evidence.ts"
import { QuotaRepo } from "./Quota/QuotaRepo.ts"

export interface Evidence extends QuotaWindow {
  readonly source: "headers" | "event" | "error" | "poll"
}

// Unchanged evidence is written again only after this long, so busy accounts do not write on every response.
const rewriteAfterMs = 30_000

const fingerprint = (window: QuotaWindow) =>
  `${window.usedPercent}|${window.windowMinutes}|${window.resetsAt?.getTime()}`

export class Quota extends Effect.Service<Quota>()("Gateway/Quota", {
  effect: Effect.gen(function*() {
    const repo = yield* QuotaRepo
    const written = new Map<string, { readonly fingerprint: string; readonly at: number }>()

    // Later evidence of the same window wins (a stream's events come after its headers).
    const record = Effect.fnUntraced(function*(accountId: string, evidence: ReadonlyArray<Evidence>) {
      const now = yield* Clock.currentTimeMillis
      const latest = new Map(
        evidence.map((window) => [`${accountId}|${window.limitName}|${window.windowKind}`, window])
      )
      const fresh = [...latest].filter(([key, window]) => {
        const last = written.get(key)
        return last === undefined || last.fingerprint !== fingerprint(window) || now - last.at > rewriteAfterMs
      })
      if (fresh.length === 0) return
      yield* repo.upsert(fresh.map(([, window]) => ({ ...window, accountId, observedAt: new Date(now) })))
      for (const [key, window] of fresh) written.set(key, { fingerprint: fingerprint(window), at: now })
    })

    return { record, forAccount: repo.forAccount } as const
  }),
  dependencies: [QuotaRepo.Default]
}) {}
