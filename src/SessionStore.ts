import { Effect } from "effect"
import { type Binding, SessionsRepo } from "./SessionStore/SessionsRepo.ts"
import { makeGroupCommit } from "./Sql/GroupCommit.ts"

const turnTtlSeconds = 60 * 60
const threadTtlSeconds = 12 * 60 * 60

export interface SessionKeys {
  readonly threadKey: string | null
  readonly turnStateKey: string | null
}

// Which account a session belongs to: a turn (x-codex-turn-state, a hard tie) and a thread (session-id,
// prompt_cache_key, a soft one). Keys are SHA-256 hashes; bindings expire. AccountSelector reads them.
// One statement binds a key once: of several bindings of the same key in a batch, the last one queued wins.
const lastOfEach = (bindings: ReadonlyArray<ReadonlyArray<Binding>>) => {
  const byKey = new Map<string, Binding>()
  for (const binding of bindings.flat()) byKey.set(`${binding.poolId} ${binding.kind} ${binding.keyHash}`, binding)
  return [...byKey.values()]
}

export class SessionStore extends Effect.Service<SessionStore>()("Gateway/SessionStore", {
  scoped: Effect.gen(function*() {
    const repo = yield* SessionsRepo
    // A response's bindings are written before its body flows, so its next turn finds them; bindings of responses
    // arriving together share one statement.
    const { submit } = yield* makeGroupCommit(
      "session bindings",
      (batch: ReadonlyArray<ReadonlyArray<Binding>>) => repo.bind(lastOfEach(batch))
    )

    const bind = Effect.fn("SessionStore.bind")(function*(poolId: string, accountId: string, keys: SessionKeys) {
      const bindings = [
        ...(keys.turnStateKey
          ? [{ kind: "hard" as const, keyHash: keys.turnStateKey, ttlSeconds: turnTtlSeconds }]
          : []),
        ...(keys.threadKey ? [{ kind: "soft" as const, keyHash: keys.threadKey, ttlSeconds: threadTtlSeconds }] : [])
      ]
      if (bindings.length > 0) yield* submit(bindings.map((binding) => ({ ...binding, poolId, accountId })))
    })

    return { bind } as const
  }),
  dependencies: [SessionsRepo.Default]
}) {}
