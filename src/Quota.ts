import { Clock, Effect } from "effect"
import type { QuotaWindow } from "./Quota/Evidence.ts"
import { QuotaRepo } from "./Quota/QuotaRepo.ts"

export class Quota extends Effect.Service<Quota>()("Gateway/Quota", {
  effect: Effect.gen(function*() {
    const repo = yield* QuotaRepo

    const record = Effect.fn("Quota.record")(
      function*(accountId: string, windows: ReadonlyArray<QuotaWindow>, source: "headers" | "event" | "error") {
        const observedAt = new Date(yield* Clock.currentTimeMillis)
        yield* repo.upsert(windows.map((window) => ({ ...window, accountId, observedAt, source })))
      }
    )

    return { record, forAccount: repo.forAccount } as const
  }),
  dependencies: [QuotaRepo.Default]
}) {}
