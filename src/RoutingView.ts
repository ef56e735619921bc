import { Clock, Deferred, Effect, Option, Queue, Schedule } from "effect"
import { forkLoop } from "./Background.ts"
import { CircuitOpenMs, DatabaseUrl, RoutingReloadMs } from "./Config.ts"
import { RoutingChanges } from "./RoutingView/Changes.ts"
import { listen } from "./RoutingView/Notices.ts"
import {
  type AccountState,
  earliestReset,
  nextAccount,
  pickAccount,
  type PickRequest,
  type PoolState,
  type Strategy
} from "./RoutingView/Pick.ts"
import { type Member, type QuotaWindow, RoutingRepo } from "./RoutingView/RoutingRepo.ts"

export const routingChannel = "codex_pooler_routing"

const millis = (date: Date | null) => date === null ? null : date.getTime()

const build = (members: ReadonlyArray<Member>, quota: ReadonlyArray<QuotaWindow>) => {
  const windows = new Map<string, Array<AccountState["quota"][number]>>()
  for (const window of quota) {
    const list = windows.get(window.accountId) ?? []
    list.push({ usedPercent: window.usedPercent, resetsAt: millis(window.resetsAt) })
    windows.set(window.accountId, list)
  }
  const pools = new Map<string, { strategy: Strategy; accounts: Array<AccountState> }>()
  for (const row of members) {
    const pool = pools.get(row.poolId) ?? { strategy: row.strategy as Strategy, accounts: [] }
    pools.set(row.poolId, pool)
    if (row.id === null) continue
    pool.accounts.push({
      id: row.id,
      status: row.status ?? "",
      lastUsedAt: millis(row.lastUsedAt),
      refreshLeaseUntil: millis(row.refreshLeaseUntil),
      cooldownUntil: millis(row.cooldownUntil),
      cooldownReason: row.cooldownReason,
      circuitState: row.circuitState,
      circuitOpenedAt: millis(row.circuitOpenedAt),
      healthUpdatedAt: millis(row.healthUpdatedAt),
      quota: windows.get(row.id) ?? []
    })
  }
  return pools as ReadonlyMap<string, PoolState>
}

// What routing reads — every Pool's accounts, their status, rests, circuits and quota — held in memory per instance,
// so picking an account costs no statement. It is reloaded whole (Pools hold tens of accounts, not millions): when
// PostgreSQL announces a change (migration 0005's triggers, on a connection of its own), when this process changed
// something (RoutingChanges: its own next request sees it), and every CODEX_POOLER_ROUTING_RELOAD_MS whatever
// happened. A reload that fails keeps the last view and is logged; the next one tries again.
export class RoutingView extends Effect.Service<RoutingView>()("Gateway/RoutingView", {
  scoped: Effect.gen(function*() {
    const repo = yield* RoutingRepo
    const changes = yield* RoutingChanges
    const circuitOpenMs = yield* CircuitOpenMs
    const reloadMs = yield* RoutingReloadMs
    const url = yield* DatabaseUrl

    let pools: ReadonlyMap<string, PoolState> = new Map()
    // loads begun (they run one at a time)
    let loadsStarted = 0
    // This instance's picks: newer than what the database said at the last load until a load that began after they
    // were written has read them back (`written`: loads started by then).
    const picked = new Map<string, { readonly at: number; written?: number }>()
    const unwritten = new Map<string, Date>()

    const load = Effect.gen(function*() {
      const generation = ++loadsStarted
      const { members, quota } = yield* repo.load
      pools = build(members, quota)
      for (const [id, pick] of picked) {
        if (pick.written !== undefined && pick.written < generation) picked.delete(id)
      }
    })
    yield* load

    // A reload that starts after the call; callers arriving while one runs share the next.
    const wake = yield* Queue.sliding<void>(1)
    let next = yield* Deferred.make<void>()
    // Runs last, after the loop below has stopped: a caller still waiting for a reload is let go.
    yield* Effect.addFinalizer(() => Effect.suspend(() => Deferred.succeed(next, undefined)))
    const refresh = Effect.suspend(() => {
      const mine = next
      wake.unsafeOffer(undefined)
      return Deferred.await(mine)
    })
    let noticed = false
    const round = Effect.gen(function*() {
      yield* Queue.take(wake).pipe(Effect.timeoutOption(reloadMs))
      const done = next
      next = yield* Deferred.make<void>()
      const onNotice = noticed
      noticed = false
      yield* load.pipe(
        Effect.zipRight(onNotice ? Effect.logDebug("routing view reloaded on a change notice") : Effect.void),
        Effect.catchAllCause((cause) => Effect.logWarning("routing view: reload failed; the last view stays", cause)),
        Effect.ensuring(Deferred.succeed(done, undefined))
      )
    })
    yield* forkLoop("routing view", round)
    yield* changes.listen(refresh)

    if (Option.isSome(url)) {
      yield* forkLoop(
        "routing change notices",
        listen({
          url: url.value,
          channel: routingChannel,
          // whatever changed while nobody listened
          onListening: Effect.sync(() => wake.unsafeOffer(undefined)),
          onNotice: () => {
            noticed = true
            wake.unsafeOffer(undefined)
          }
        }).pipe(Effect.tapError((error) => Effect.logWarning("routing change notices lost; listening again", error))),
        Schedule.spaced("1 second")
      )
    }

    const writeUsed = Effect.suspend(() => {
      if (unwritten.size === 0) return Effect.void
      const rows = [...unwritten].map(([id, at]) => ({ id, at }))
      unwritten.clear()
      return Effect.tap(repo.used(rows), () => {
        for (const row of rows) {
          const pick = picked.get(row.id)
          if (pick?.at === row.at.getTime()) pick.written = loadsStarted
        }
      })
    })
    yield* forkLoop("last-used times", writeUsed, Schedule.spaced("1 second"))
    yield* Effect.addFinalizer(() => writeUsed.pipe(Effect.catchAllCause(() => Effect.void)))

    const lastUsed = (account: AccountState) => {
      const mine = picked.get(account.id)?.at
      return mine === undefined || (account.lastUsedAt !== null && account.lastUsedAt >= mine)
        ? account.lastUsedAt
        : mine
    }

    // The account for a request, or none eligible. An open circuit whose time is up is probed by exactly one request
    // of every instance's (the conditional update in RoutingRepo.probe); a request that loses that race picks again
    // without it.
    const pick = (poolId: string, request: PickRequest) =>
      Effect.gen(function*() {
        const exclude = [...request.exclude]
        while (true) {
          const pool = pools.get(poolId)
          if (pool === undefined) return undefined
          const now = yield* Clock.currentTimeMillis
          const account = pickAccount(pool, { ...request, exclude }, lastUsed, now, circuitOpenMs)
          if (account === undefined) return undefined
          if (account.circuitState === "open") {
            const probing = yield* repo.probe(account.id, circuitOpenMs / 1000)
            // the view learns of the half-open circuit now rather than at the next notice
            wake.unsafeOffer(undefined)
            if (!probing) {
              exclude.push(account.id)
              continue
            }
          }
          picked.set(account.id, { at: now })
          unwritten.set(account.id, new Date(now))
          return account
        }
      })

    const pool = (poolId: string) => pools.get(poolId)

    // What a new request of the Pool would get, read without picking (Codex's usage view through the Pool).
    const peek = (poolId: string) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const found = pools.get(poolId)
        return found === undefined ? undefined : nextAccount(found, lastUsed, now, circuitOpenMs)
      })

    return {
      pick,
      peek,
      pool,
      refresh,
      // this instance's last-used times, written now rather than at the next round
      writeUsed,
      activeCount: (poolId: string) =>
        pools.get(poolId)?.accounts.filter((account) => account.status === "active").length ?? 0,
      earliestReset: (poolId: string) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const found = pools.get(poolId)
          const at = found === undefined ? null : earliestReset(found, now)
          return at === null ? Option.none() : Option.some(new Date(at))
        })
    } as const
  }),
  dependencies: [RoutingRepo.Default, RoutingChanges.Default]
}) {}
