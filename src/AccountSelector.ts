import { Effect, Option } from "effect"
import { NoAccountAvailable, PoolExhausted } from "./Proxy/Errors.ts"
import { RoutingView } from "./RoutingView.ts"
import { SessionStore } from "./SessionStore.ts"

export interface Selected {
  readonly accountId: string
  // The account that owned the request's session before this pick, if any.
  readonly owner: string | null
}

export interface Selection {
  readonly poolId: string
  readonly turnStateKey: string | null
  readonly threadKey: string | null
  readonly pinned: boolean
  readonly exclude: ReadonlyArray<string>
}

// select: the session's owner (a turn's hard tie before its thread's soft one), then the routing view's pick. Neither
// costs a statement when the session is known here.
export class AccountSelector extends Effect.Service<AccountSelector>()("Gateway/AccountSelector", {
  effect: Effect.gen(function*() {
    const view = yield* RoutingView
    const sessions = yield* SessionStore

    const select = (selection: Selection) =>
      Effect.gen(function*() {
        const bound = yield* sessions.owner(selection.poolId, selection)
        // A binding to an account no longer in the Pool binds nothing.
        const ownerIn = () =>
          bound !== null && view.pool(selection.poolId)?.accounts.some((account) => account.id === bound)
            ? bound
            : null
        let owner = ownerIn()
        let picked = yield* view.pick(selection.poolId, { ...selection, owner })
        // Before a request is refused, the view is read again: a Pool or an account added a moment ago by another
        // process (the CLI on the embedded database, which has no change notices) serves at once. Requests refused
        // together share that one reload.
        if (picked === undefined && selection.exclude.length === 0) {
          yield* view.refresh
          owner = ownerIn()
          picked = yield* view.pick(selection.poolId, { ...selection, owner })
        }
        if (picked !== undefined) return { accountId: picked.id, owner } satisfies Selected
        if (view.activeCount(selection.poolId) === 0) return yield* new NoAccountAvailable({ reason: "empty_pool" })
        // Every account that could serve is resting after its usage limit: Codex is told when to come back.
        const reset = yield* view.earliestReset(selection.poolId)
        if (Option.isSome(reset) && selection.exclude.length === 0) {
          return yield* new PoolExhausted({ resetsAt: reset.value })
        }
        return yield* new NoAccountAvailable({ reason: "none_eligible" })
      })

    return { select } as const
  }),
  dependencies: [RoutingView.Default, SessionStore.Default]
}) {}
