import { Args, Command, Options } from "@effect/cli"
import { Effect, Either, Option, Struct } from "effect"
import { InvalidInput } from "../Domain/Errors.ts"
import { parseLifetime } from "../Domain/Duration.ts"
import { PoolKeys } from "../PoolKeys.ts"
import { emit, emitList, emitSecret, json } from "./Output.ts"

const create = Command.make("create", {
  pool: Options.text("pool").pipe(Options.withDescription("slug of the pool the key opens")),
  name: Options.text("name").pipe(Options.optional),
  expires: Options.text("expires").pipe(Options.withDescription("lifetime such as 90m, 12h, 30d, 8w"), Options.optional),
  rpm: Options.integer("rpm").pipe(Options.withDescription("requests per minute"), Options.optional),
  tokensPerDay: Options.integer("tokens-per-day").pipe(Options.withDescription("tokens per UTC day"), Options.optional),
  maxConcurrent: Options.integer("max-concurrent").pipe(Options.withDescription("open streams at once"), Options.optional),
  models: Options.text("models").pipe(Options.withDescription("comma-separated model allow-list"), Options.optional),
  json
}, (input) =>
  Effect.gen(function*() {
    const lifetimeMs = yield* Option.match(input.expires, {
      onNone: () => Either.right(undefined),
      onSome: parseLifetime
    })
    const positive = (name: string, value: Option.Option<number>) =>
      Option.match(value, {
        onNone: () => Either.right(null),
        onSome: (number) =>
          number > 0 ? Either.right(number) : Either.left(new InvalidInput({ message: `--${name} must be a positive number` }))
      })
    const limits = {
      requestsPerMinute: yield* positive("rpm", input.rpm),
      tokensPerDay: yield* positive("tokens-per-day", input.tokensPerDay),
      maxConcurrent: yield* positive("max-concurrent", input.maxConcurrent),
      allowedModels: Option.match(input.models, {
        onNone: () => null,
        onSome: (models) => models.split(",").map((model) => model.trim()).filter((model) => model !== "")
      })
    }
    const created = yield* (yield* PoolKeys).create({
      limits,
      poolSlug: input.pool,
      ...Option.match(input.name, { onNone: () => ({}), onSome: (name) => ({ name }) }),
      ...(lifetimeMs === undefined ? {} : { lifetimeMs })
    })
    const key = Struct.omit(created.key, "secretHash", "poolStatus")
    const limited = [
      key.requestsPerMinute === null ? [] : [`${key.requestsPerMinute} requests/min`],
      key.tokensPerDay === null ? [] : [`${key.tokensPerDay} tokens/day`],
      key.maxConcurrent === null ? [] : [`${key.maxConcurrent} concurrent`],
      key.allowedModels === null ? [] : [`models ${key.allowedModels.join(",")}`]
    ].flat()
    yield* emitSecret(
      input.json,
      { key, token: created.token },
      `created key ${key.id} "${key.name}" for pool ${key.poolSlug}${key.expiresAt ? `, expires ${key.expiresAt.toISOString()}` : ""}${
        limited.length > 0 ? `, limits: ${limited.join(", ")}` : ""
      }`,
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

export const keyCommand = Command.make("key").pipe(
  Command.withDescription("manage Pool API keys"),
  Command.withSubcommands([create, list, revoke])
)
