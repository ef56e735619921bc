import { Args, Command, Options } from "@effect/cli"
import { Config, Console, Effect, Either, Option, Redacted, Struct } from "effect"
import { parseLifetime } from "../Domain/Duration.ts"
import { InvalidInput } from "../Domain/Errors.ts"
import { codexAuthJson } from "../Domain/PoolSignIn.ts"
import { limitCeilings, PoolKeys } from "../PoolKeys.ts"
import type { KeyLimits } from "../PoolKeys/PoolKeysRepo.ts"
import { emit, emitList, emitSecret, json } from "./Output.ts"

const modelList = (text: string) => text.split(",").map((model) => model.trim()).filter((model) => model !== "")

const describeLimits = (key: KeyLimits) =>
  [
    key.requestsPerMinute === null ? [] : [`${key.requestsPerMinute} requests/min`],
    key.tokensPerDay === null ? [] : [`${key.tokensPerDay} tokens/day`],
    key.maxConcurrent === null ? [] : [`${key.maxConcurrent} concurrent`],
    key.allowedModels === null ? [] : [`models ${key.allowedModels.join(",")}`]
  ].flat()

const create = Command.make("create", {
  pool: Options.text("pool").pipe(Options.withDescription("slug of the pool the key opens")),
  name: Options.text("name").pipe(Options.optional),
  expires: Options.text("expires").pipe(
    Options.withDescription("lifetime such as 90m, 12h, 30d, 8w"),
    Options.optional
  ),
  rpm: Options.integer("rpm").pipe(Options.withDescription("requests per minute"), Options.optional),
  tokensPerDay: Options.integer("tokens-per-day").pipe(Options.withDescription("tokens per UTC day"), Options.optional),
  maxConcurrent: Options.integer("max-concurrent").pipe(
    Options.withDescription("open streams at once"),
    Options.optional
  ),
  models: Options.text("models").pipe(Options.withDescription("comma-separated model allow-list"), Options.optional),
  json
}, (input) =>
  Effect.gen(function*() {
    const lifetimeMs = yield* Option.match(input.expires, {
      onNone: () => Either.right(undefined),
      onSome: parseLifetime
    })
    const positive = (name: string, value: Option.Option<number>, max: number) =>
      Option.match(value, {
        onNone: () => Either.right(null),
        onSome: (number) =>
          number > 0 && number <= max
            ? Either.right(number)
            : Either.left(new InvalidInput({ message: `--${name} must be a whole number from 1 to ${max}` }))
      })
    const limits = {
      requestsPerMinute: yield* positive("rpm", input.rpm, limitCeilings.requestsPerMinute),
      tokensPerDay: yield* positive("tokens-per-day", input.tokensPerDay, limitCeilings.tokensPerDay),
      maxConcurrent: yield* positive("max-concurrent", input.maxConcurrent, limitCeilings.maxConcurrent),
      allowedModels: Option.match(input.models, { onNone: () => null, onSome: modelList })
    }
    const created = yield* (yield* PoolKeys).create({
      limits,
      poolSlug: input.pool,
      ...Option.match(input.name, { onNone: () => ({}), onSome: (name) => ({ name }) }),
      ...(lifetimeMs === undefined ? {} : { lifetimeMs })
    })
    const key = Struct.omit(created.key, "secretHash", "poolStatus")
    const limited = describeLimits(key)
    yield* emitSecret(
      input.json,
      { key, token: created.token },
      `created key ${key.id} "${key.name}" for pool ${key.poolSlug}${
        key.expiresAt ? `, expires ${key.expiresAt.toISOString()}` : ""
      }${limited.length > 0 ? `, limits: ${limited.join(", ")}` : ""}`,
      created.token
    )
  })).pipe(Command.withDescription("create a Pool API key (the secret is shown once)"))

const list = Command.make("list", { json }, (input) =>
  Effect.gen(function*() {
    const keys = yield* (yield* PoolKeys).list
    yield* emitList(input.json, keys, ["ID", "NAME", "POOL", "STATUS", "EXPIRES", "LAST USED"], (key) => [
      key.id,
      key.name,
      key.poolSlug,
      key.status,
      key.expiresAt,
      key.lastUsedAt
    ], "no keys yet: codex-pooler key create --pool <slug>")
  })).pipe(Command.withDescription("list Pool API keys (never their secrets)"))

const revoke = Command.make("revoke", { id: Args.text({ name: "id" }), json }, (input) =>
  Effect.gen(function*() {
    yield* (yield* PoolKeys).revoke(input.id)
    yield* emit(input.json, { revoked: input.id }, () => `revoked key ${input.id}`)
  })).pipe(Command.withDescription("revoke a Pool API key"))

const limitOption = (name: string, pseudoName: string, description: string) =>
  Options.text(name).pipe(
    Options.withPseudoName(`${pseudoName}|none`),
    Options.withDescription(`${description}, or none to remove the limit`),
    Options.optional
  )

// An option left out keeps the key's current limit, as in the MCP set_key_limits tool.
const change = <A>(value: Option.Option<string>, parse: (text: string) => Either.Either<A, InvalidInput>) =>
  Option.match(value, {
    onNone: () => Either.right(undefined),
    onSome: (text) => text.trim() === "none" ? Either.right(null) : parse(text)
  })

const bounded = (name: string, max: number) => (text: string) =>
  /^\d+$/.test(text.trim()) && Number(text) >= 1 && Number(text) <= max
    ? Either.right(Number(text))
    : Either.left(new InvalidInput({ message: `--${name} must be a whole number from 1 to ${max}, or none` }))

const models = (text: string) =>
  modelList(text).length > 0
    ? Either.right(modelList(text))
    : Either.left(new InvalidInput({ message: "--models must name at least one model, or none" }))

const setLimits = Command.make("set-limits", {
  id: Args.text({ name: "id" }),
  rpm: limitOption("rpm", "n", "requests per minute"),
  tokensPerDay: limitOption("tokens-per-day", "n", "tokens per UTC day"),
  maxConcurrent: limitOption("max-concurrent", "n", "open streams at once"),
  models: limitOption("models", "a,b", "comma-separated model allow-list"),
  json
}, (input) =>
  Effect.gen(function*() {
    const changes = {
      requestsPerMinute: yield* change(input.rpm, bounded("rpm", limitCeilings.requestsPerMinute)),
      tokensPerDay: yield* change(input.tokensPerDay, bounded("tokens-per-day", limitCeilings.tokensPerDay)),
      maxConcurrent: yield* change(input.maxConcurrent, bounded("max-concurrent", limitCeilings.maxConcurrent)),
      allowedModels: yield* change(input.models, models)
    }
    if (Object.values(changes).every((value) => value === undefined)) {
      const message = "give at least one of --rpm, --tokens-per-day, --max-concurrent, --models"
      return yield* new InvalidInput({ message })
    }
    const key = Struct.omit(yield* (yield* PoolKeys).setLimits(input.id, changes), "secretHash", "poolStatus")
    yield* emit(input.json, key, () =>
      `key ${key.id} "${key.name}" of pool ${key.poolSlug} now has limits: ${describeLimits(key).join(", ") || "none"}`)
  })).pipe(Command.withDescription("change a Pool API key's limits; options left out keep their value"))

// The key is read from the environment, not the command line (where other users of the host could see it in ps).
const authJson = Command.make("auth-json", {}, () =>
  Effect.gen(function*() {
    const key = yield* Config.redacted("CODEX_POOLER_API_KEY").pipe(
      Effect.mapError(() => new InvalidInput({ message: "set CODEX_POOLER_API_KEY to the Pool key (cpk_…)" }))
    )
    if (!/^cpk_[A-Za-z0-9_-]+$/.test(Redacted.value(key))) {
      return yield* new InvalidInput({ message: "CODEX_POOLER_API_KEY is not a Pool key (cpk_…)" })
    }
    yield* Console.log(JSON.stringify(codexAuthJson(Redacted.value(key), Math.floor(Date.now() / 1000)), null, 2))
  })).pipe(
    Command.withDescription(
      "print a Codex auth.json signed in with the Pool key in CODEX_POOLER_API_KEY (for /status and the image tool)"
    )
  )

export const keyCommand = Command.make("key").pipe(
  Command.withDescription("manage Pool API keys"),
  Command.withSubcommands([create, list, revoke, setLimits, authJson])
)
