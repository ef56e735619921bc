import { Effect, Option, Schema } from "effect"
import { Accounts } from "../Accounts.ts"
import { PoolNotFound } from "../Domain/Errors.ts"
import { Strategy } from "../Domain/Models.ts"
import { Pools } from "../Pools.ts"
import type { PoolFlag } from "../Pools/PoolsRepo.ts"
import { AccountView, makeAccountViews } from "./AccountView.ts"
import { defineTool } from "./Tool.ts"

const PoolView = Schema.Struct({
  id: Schema.String,
  slug: Schema.String,
  name: Schema.String,
  strategy: Strategy,
  status: Schema.Literal("active", "disabled"),
  autoRedeemResets: Schema.Boolean,
  v1Enabled: Schema.Boolean,
  createdAt: Schema.Date,
  accounts: Schema.Number,
  activeKeys: Schema.Number
})
const PoolRef = Schema.String.annotations({ description: "a Pool slug or id" })

export const poolTools = Effect.gen(function*() {
  const pools = yield* Pools
  const accounts = yield* Accounts
  const views = yield* makeAccountViews

  const list = Effect.map(pools.list, (all) => all.map(({ keys, ...pool }) => ({ ...pool, activeKeys: keys })))
  const find = (ref: string) =>
    Effect.flatMap(
      list,
      (all) =>
        Option.match(Option.fromNullable(all.find((pool) => pool.slug === ref || pool.id === ref)), {
          onNone: () => Effect.fail(new PoolNotFound({ slug: ref })),
          onSome: Effect.succeed
        })
    )

  // A Pool's on/off policy, as a tool.
  const flagTool = (name: string, flag: PoolFlag, description: string) =>
    defineTool({
      name,
      description,
      scope: "admin",
      input: Schema.Struct({ pool: PoolRef, on: Schema.Boolean }),
      output: Schema.Struct({ pool: PoolView }),
      run: ({ on, pool }) =>
        pools.setFlag(pool, flag, on).pipe(
          Effect.flatMap((updated) => find(updated.id)),
          Effect.map((updated) => ({ pool: updated }))
        )
    })

  return [
    defineTool({
      name: "list_pools",
      description: "List Pools with their routing strategy, status, account count and active key count.",
      scope: "read",
      input: Schema.Struct({}),
      output: Schema.Struct({ pools: Schema.Array(PoolView) }),
      run: () => Effect.map(list, (all) => ({ pools: all }))
    }),
    defineTool({
      name: "get_pool",
      description: "One Pool with its accounts, each with status, quota windows, cooldown and circuit state.",
      scope: "read",
      input: Schema.Struct({ pool: PoolRef }),
      output: Schema.Struct({ pool: PoolView, accounts: Schema.Array(AccountView) }),
      run: ({ pool: ref }) =>
        Effect.gen(function*() {
          const pool = yield* find(ref)
          const members = (yield* accounts.list).filter((account) => account.pools.includes(pool.slug))
          return { pool, accounts: yield* views.many(members) }
        })
    }),
    defineTool({
      name: "set_pool_strategy",
      description:
        "Set a Pool's account selection strategy: quota_first, round_robin, least_recently_used or rendezvous. Audited.",
      scope: "admin",
      input: Schema.Struct({ pool: PoolRef, strategy: Strategy }),
      output: Schema.Struct({ pool: PoolView }),
      run: ({ pool, strategy }) =>
        pools.setStrategy(pool, strategy).pipe(
          Effect.flatMap((updated) => find(updated.id)),
          Effect.map((updated) => ({ pool: updated }))
        )
    }),
    flagTool(
      "set_pool_auto_redeem",
      "autoRedeemResets",
      "Turn a Pool's automatic reset redemption on or off: when on, a saved usage-limit reset is redeemed by itself " +
        "once every active account of the Pool is at its limit. Off by default. Audited."
    ),
    flagTool(
      "set_pool_v1",
      "v1Enabled",
      "Let a Pool's keys use the OpenAI-compatible /v1 (on), or not (off: its /v1 requests get 403). On by default. " +
        "Audited."
    )
  ]
})
