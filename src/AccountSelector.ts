import { Effect, Option } from "effect"
import { SelectionRepo } from "./AccountSelector/SelectionRepo.ts"
import { NoAccountAvailable } from "./Proxy/Errors.ts"

export interface Selection {
  readonly poolId: string
  // The account that owns the request's session, preferred while it is eligible.
  readonly preferred: string | null
  // Accounts already tried for this request.
  readonly exclude: ReadonlyArray<string>
}

export class AccountSelector extends Effect.Service<AccountSelector>()("Gateway/AccountSelector", {
  effect: Effect.gen(function*() {
    const repo = yield* SelectionRepo

    const select = Effect.fn("AccountSelector.select")(function*(selection: Selection) {
      const picked = yield* repo.pick(selection)
      if (Option.isSome(picked)) return picked.value.id
      const active = yield* repo.activeCount(selection.poolId)
      return yield* new NoAccountAvailable({ reason: active === 0 ? "empty_pool" : "none_eligible" })
    })

    return { select } as const
  }),
  dependencies: [SelectionRepo.Default]
}) {}
