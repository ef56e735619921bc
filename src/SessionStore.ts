import { Effect } from "effect"
import { SessionsRepo } from "./SessionStore/SessionsRepo.ts"

const turnTtlSeconds = 60 * 60
const threadTtlSeconds = 12 * 60 * 60

export interface SessionKeys {
  readonly threadKey: string | null
  readonly turnStateKey: string | null
}

// Which account a session belongs to: a turn (x-codex-turn-state, a hard tie) and a thread (session-id,
// prompt_cache_key, a soft one). Keys are SHA-256 hashes; bindings expire. AccountSelector reads them.
export class SessionStore extends Effect.Service<SessionStore>()("Gateway/SessionStore", {
  effect: Effect.gen(function*() {
    const repo = yield* SessionsRepo

    const bind = Effect.fn("SessionStore.bind")(function*(poolId: string, accountId: string, keys: SessionKeys) {
      const bindings = [
        ...(keys.turnStateKey
          ? [{ kind: "hard" as const, keyHash: keys.turnStateKey, ttlSeconds: turnTtlSeconds }]
          : []),
        ...(keys.threadKey ? [{ kind: "soft" as const, keyHash: keys.threadKey, ttlSeconds: threadTtlSeconds }] : [])
      ]
      if (bindings.length > 0) yield* repo.bind(bindings.map((binding) => ({ ...binding, poolId, accountId })))
    })

    return { bind } as const
  }),
  dependencies: [SessionsRepo.Default]
}) {}
