import { Effect, Option } from "effect"
import { AccountHealth } from "./AccountHealth.ts"
import { type Pick, SelectionRepo } from "./AccountSelector/SelectionRepo.ts"
import { CircuitOpenMs } from "./Config.ts"
import { NoAccountAvailable, PoolExhausted } from "./Proxy/Errors.ts"

export interface Selected {
  readonly accountId: string
  // The account that owned the request's session before this pick, if any.
  readonly owner: string | null
}

export class AccountSelector extends Effect.Service<AccountSelector>()("Gateway/AccountSelector", {
  effect: Effect.gen(function*() {
    const repo = yield* SelectionRepo
    const health = yield* AccountHealth

    const circuitOpenSeconds = (yield* CircuitOpenMs) / 1000

    const select = Effect.fn("AccountSelector.select")(function*(selection: Omit<Pick, "circuitOpenSeconds">) {
      const picked = yield* repo.pick({ ...selection, circuitOpenSeconds })
      if (Option.isSome(picked)) return { accountId: picked.value.id, owner: picked.value.owner } satisfies Selected
      const active = yield* repo.activeCount(selection.poolId)
      if (active === 0) return yield* new NoAccountAvailable({ reason: "empty_pool" })
      // Every account that could serve is resting after its usage limit: Codex is told when to come back.
      const reset = yield* health.earliestReset(selection.poolId)
      if (Option.isSome(reset) && selection.exclude.length === 0) {
        return yield* new PoolExhausted({ resetsAt: reset.value.resetsAt })
      }
      return yield* new NoAccountAvailable({ reason: "none_eligible" })
    })

    return { select } as const
  }),
  dependencies: [SelectionRepo.Default, AccountHealth.Default]
}) {}
