import { Effect, Option } from "effect"
import type { RequestFacts } from "./Proxy/RequestFacts.ts"
import { SessionsRepo } from "./SessionStore/SessionsRepo.ts"

export interface SessionOwner {
  readonly accountId: string
  readonly kind: "hard" | "soft"
}

const turnTtlSeconds = 60 * 60
const threadTtlSeconds = 12 * 60 * 60

// Which account a request belongs to: hard ties (a turn's x-codex-turn-state) before soft ones (its thread).
export class SessionStore extends Effect.Service<SessionStore>()("Gateway/SessionStore", {
  effect: Effect.gen(function*() {
    const repo = yield* SessionsRepo

    const owner = Effect.fn("SessionStore.owner")(function*(poolId: string, facts: RequestFacts) {
      if (facts.turnStateKey === null && facts.threadKey === null) return Option.none<SessionOwner>()
      const rows = yield* repo.lookup({ poolId, hard: facts.turnStateKey, soft: facts.threadKey })
      return Option.fromNullable(rows[0])
    })

    const bind = Effect.fn("SessionStore.bind")(
      function*(poolId: string, accountId: string, keys: { readonly threadKey: string | null; readonly turnStateKey: string | null }) {
        const bindings = [
          ...(keys.turnStateKey ? [{ kind: "hard" as const, keyHash: keys.turnStateKey, ttlSeconds: turnTtlSeconds }] : []),
          ...(keys.threadKey ? [{ kind: "soft" as const, keyHash: keys.threadKey, ttlSeconds: threadTtlSeconds }] : [])
        ]
        yield* Effect.forEach(bindings, (binding) => repo.bind({ ...binding, poolId, accountId }), { discard: true })
      }
    )

    return { owner, bind } as const
  }),
  dependencies: [SessionsRepo.Default]
}) {}
