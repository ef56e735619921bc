import { Effect, Option } from "effect"
import { type Pick, SelectionRepo } from "./AccountSelector/SelectionRepo.ts"
import { NoAccountAvailable } from "./Proxy/Errors.ts"

export interface Selected {
  readonly accountId: string
  // The account that owned the request's session before this pick, if any.
  readonly owner: string | null
}

export class AccountSelector extends Effect.Service<AccountSelector>()("Gateway/AccountSelector", {
  effect: Effect.gen(function*() {
    const repo = yield* SelectionRepo

    const select = Effect.fn("AccountSelector.select")(function*(selection: Pick) {
      const picked = yield* repo.pick(selection)
      if (Option.isSome(picked)) return { accountId: picked.value.id, owner: picked.value.owner } satisfies Selected
      const active = yield* repo.activeCount(selection.poolId)
      return yield* new NoAccountAvailable({ reason: active === 0 ? "empty_pool" : "none_eligible" })
    })

    return { select } as const
  }),
  dependencies: [SelectionRepo.Default]
}) {}
