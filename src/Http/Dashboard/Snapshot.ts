import { Clock, Effect } from "effect"
import { Accounts } from "../../Accounts.ts"
import { Activity } from "../../Activity.ts"
import { makeAccountViews } from "../../Mcp/AccountView.ts"
import { FleetRepo } from "../../Mcp/FleetRepo.ts"
import { keyView } from "../../Mcp/KeyTools.ts"
import { Pools } from "../../Pools.ts"

export const recentRequests = 20

// Everything the page shows, read through the services the MCP tools and the CLI use: no SQL of its own.
export const makeSnapshot = Effect.gen(function*() {
  const activity = yield* Activity
  const pools = yield* Pools
  const accounts = yield* Accounts
  const fleet = yield* FleetRepo
  const views = yield* makeAccountViews
  const startedAt = yield* Clock.currentTimeMillis

  return Effect.gen(function*() {
    const status = yield* activity.status
    const poolList = yield* pools.list
    const accountViews = yield* Effect.flatMap(accounts.list, views.many)
    const keys = (yield* fleet.keys).map(keyView)
    // Fixed windows and limits, so the range checks these make cannot fail.
    const usage = yield* Effect.orDie(activity.usage({ by: "pool" }))
    const { requests } = yield* Effect.orDie(activity.requests({ limit: recentRequests }))
    const charts = yield* activity.charts
    return {
      status: { ...status, uptimeSeconds: Math.round((status.now.getTime() - startedAt) / 1000) },
      pools: poolList.map((pool) => ({
        ...pool,
        members: accountViews.filter((view) => view.pools.includes(pool.slug))
      })),
      keys,
      usage,
      requests,
      charts
    } as const
  }).pipe(Effect.withSpan("Dashboard.snapshot"))
})

export type Snapshot = Effect.Effect.Success<Effect.Effect.Success<typeof makeSnapshot>>
