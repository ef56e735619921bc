import { Args, Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { Strategy } from "../Domain/Models.ts"
import { Pools } from "../Pools.ts"
import { emit, emitList, json } from "./Output.ts"

const create = Command.make("create", {
  slug: Args.text({ name: "slug" }),
  name: Options.text("name").pipe(Options.optional),
  strategy: Options.choice("strategy", Strategy.literals).pipe(Options.optional),
  json
}, (input) =>
  Effect.gen(function*() {
    const pools = yield* Pools
    const pool = yield* pools.create({
      slug: input.slug,
      ...(input.name._tag === "Some" ? { name: input.name.value } : {}),
      ...(input.strategy._tag === "Some" ? { strategy: input.strategy.value } : {})
    })
    yield* emit(input.json, pool, () => `created pool ${pool.slug} (${pool.id}), strategy ${pool.strategy}`)
  })).pipe(Command.withDescription("create a pool of accounts"))

const list = Command.make("list", { json }, (input) =>
  Effect.gen(function*() {
    const pools = yield* (yield* Pools).list
    const headers = ["SLUG", "NAME", "STRATEGY", "STATUS", "AUTO REDEEM", "V1", "ACCOUNTS", "KEYS", "ID"]
    yield* emitList(input.json, pools, headers, (pool) => [
      pool.slug,
      pool.name,
      pool.strategy,
      pool.status,
      pool.autoRedeemResets ? "on" : "off",
      pool.v1Enabled ? "on" : "off",
      pool.accounts,
      pool.keys,
      pool.id
    ], "no pools yet: codex-pooler pool create <slug>")
  })).pipe(Command.withDescription("list pools"))

const setStrategy = Command.make("set-strategy", {
  slug: Args.text({ name: "slug" }),
  strategy: Args.choice(Strategy.literals.map((strategy) => [strategy, strategy]), { name: "strategy" }),
  json
}, (input) =>
  Effect.gen(function*() {
    const pool = yield* (yield* Pools).setStrategy(input.slug, input.strategy)
    yield* emit(input.json, pool, () => `pool ${pool.slug} now uses strategy ${pool.strategy}`)
  })).pipe(Command.withDescription(`set how a pool picks an account: ${Strategy.literals.join(", ")}`))

const onOff = Args.choice([["on", true], ["off", false]], { name: "on|off" })

const setAutoRedeem = Command.make(
  "set-auto-redeem",
  { slug: Args.text({ name: "slug" }), setting: onOff, json },
  (input) =>
    Effect.gen(function*() {
      const pool = yield* (yield* Pools).setFlag(input.slug, "autoRedeemResets", input.setting)
      yield* emit(input.json, pool, () =>
        pool.autoRedeemResets
          ? `pool ${pool.slug} now redeems a saved reset by itself when every active account is at its limit`
          : `pool ${pool.slug} no longer redeems saved resets by itself`)
    })
).pipe(
  Command.withDescription("redeem a saved usage-limit reset by itself when every active account is at its limit")
)

const setV1 = Command.make(
  "set-v1",
  { slug: Args.text({ name: "slug" }), setting: onOff, json },
  (input) =>
    Effect.gen(function*() {
      const pool = yield* (yield* Pools).setFlag(input.slug, "v1Enabled", input.setting)
      yield* emit(
        input.json,
        pool,
        () => `pool ${pool.slug}'s keys ${pool.v1Enabled ? "now reach" : "no longer reach"} the OpenAI-compatible /v1`
      )
    })
).pipe(Command.withDescription("let this pool's keys use the OpenAI-compatible /v1 (on by default) or not"))

export const poolCommand = Command.make("pool").pipe(
  Command.withDescription("manage pools"),
  Command.withSubcommands([create, list, setStrategy, setAutoRedeem, setV1])
)
