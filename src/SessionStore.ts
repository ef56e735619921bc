import { Clock, Effect } from "effect"
import { Journal } from "./Accounting/Journal.ts"
import { SessionCacheEntries } from "./Config.ts"
import { type SessionKey, sessionKeyOf, SessionsRepo } from "./SessionStore/SessionsRepo.ts"
import { makeBatcher } from "./Sql/GroupCommit.ts"

const turnTtlSeconds = 60 * 60
const threadTtlSeconds = 12 * 60 * 60

export interface SessionKeys {
  readonly threadKey: string | null
  readonly turnStateKey: string | null
}

interface Cached {
  readonly accountId: string
  readonly expiresAt: number
}

// Which account a session belongs to: a turn (x-codex-turn-state, a hard tie) and a thread (session-id,
// prompt_cache_key, a soft one). Keys are SHA-256 hashes; bindings expire. A binding is written through to the table
// (in the request journal) before the response that made it flows (so a turn's follow-up finds it on any instance) and kept in a bounded
// in-memory cache, most recently used last; a key this instance does not hold is looked up, with the other lookups
// waiting at the same moment, in one statement. A thread another instance moved elsewhere may stay where this one
// last saw it until its entry goes: soft ties are preferences, and a turn's own tie is made anew with each turn.
export class SessionStore extends Effect.Service<SessionStore>()("Gateway/SessionStore", {
  scoped: Effect.gen(function*() {
    const repo = yield* SessionsRepo
    const capacity = yield* SessionCacheEntries
    const cache = new Map<string, Cached>()

    const remember = (key: string, entry: Cached) => {
      if (capacity === 0) return
      cache.delete(key)
      cache.set(key, entry)
      if (cache.size <= capacity) return
      const oldest = cache.keys().next()
      if (oldest.done !== true) cache.delete(oldest.value)
    }
    const cached = (key: string, now: number) => {
      const entry = cache.get(key)
      if (entry === undefined) return undefined
      cache.delete(key)
      if (entry.expiresAt <= now) return undefined
      cache.set(key, entry)
      return entry.accountId
    }

    const journal = yield* Journal
    const { submit: lookUp } = yield* makeBatcher(
      "session lookups",
      (batch: ReadonlyArray<ReadonlyArray<SessionKey>>) =>
        Effect.map(repo.find(batch.flat()), (found) => {
          const byIndex = new Map(found.map((row) => [row.index, row]))
          let index = 0
          return batch.map((keys) => keys.map(() => byIndex.get(index++)))
        })
    )

    // The account that owns the request's turn, else its thread; null when neither is bound. Keys are tried in that
    // order: the first one held here settles it, and only the keys before it are looked up.
    const owner = (poolId: string, keys: SessionKeys) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const wanted: Array<SessionKey> = []
        if (keys.turnStateKey !== null) wanted.push({ poolId, kind: "hard", keyHash: keys.turnStateKey })
        if (keys.threadKey !== null) wanted.push({ poolId, kind: "soft", keyHash: keys.threadKey })
        const missing: Array<SessionKey> = []
        let held: string | null = null
        for (const key of wanted) {
          const accountId = cached(sessionKeyOf(key), now)
          if (accountId !== undefined) {
            held = accountId
            break
          }
          missing.push(key)
        }
        if (missing.length === 0) return held
        const found = yield* lookUp(missing)
        let owner: string | null = null
        missing.forEach((key, index) => {
          const row = found[index]
          if (row === undefined) return
          remember(sessionKeyOf(key), { accountId: row.accountId, expiresAt: row.expiresAt.getTime() })
          owner ??= row.accountId
        })
        return owner ?? held
      })

    const bind = (poolId: string, accountId: string, keys: SessionKeys) =>
      Effect.gen(function*() {
        const bindings = [
          ...(keys.turnStateKey
            ? [{ kind: "hard" as const, keyHash: keys.turnStateKey, ttlSeconds: turnTtlSeconds }]
            : []),
          ...(keys.threadKey ? [{ kind: "soft" as const, keyHash: keys.threadKey, ttlSeconds: threadTtlSeconds }] : [])
        ].map((binding) => ({ ...binding, poolId, accountId }))
        if (bindings.length === 0) return
        yield* journal.bind(bindings)
        const now = yield* Clock.currentTimeMillis
        for (const binding of bindings) {
          remember(sessionKeyOf(binding), { accountId, expiresAt: now + binding.ttlSeconds * 1000 })
        }
      })

    return { owner, bind } as const
  }),
  dependencies: [SessionsRepo.Default, Journal.Default]
}) {}
