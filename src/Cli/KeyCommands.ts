import { Args, Command, Options } from "@effect/cli"
import { Effect, Either, Option, Struct } from "effect"
import { parseLifetime } from "../Domain/Duration.ts"
import { PoolKeys } from "../PoolKeys.ts"
import { emit, emitList, emitSecret, json } from "./Output.ts"

const create = Command.make("create", {
  pool: Options.text("pool").pipe(Options.withDescription("slug of the pool the key opens")),
  name: Options.text("name").pipe(Options.optional),
  expires: Options.text("expires").pipe(Options.withDescription("lifetime such as 90m, 12h, 30d, 8w"), Options.optional),
  json
}, (input) =>
  Effect.gen(function*() {
    const lifetimeMs = yield* Option.match(input.expires, {
      onNone: () => Either.right(undefined),
      onSome: parseLifetime
    })
    const created = yield* (yield* PoolKeys).create({
      poolSlug: input.pool,
      ...Option.match(input.name, { onNone: () => ({}), onSome: (name) => ({ name }) }),
      ...(lifetimeMs === undefined ? {} : { lifetimeMs })
    })
    const key = Struct.omit(created.key, "secretHash", "poolStatus")
    yield* emitSecret(
      input.json,
      { key, token: created.token },
      `created key ${key.id} "${key.name}" for pool ${key.poolSlug}${key.expiresAt ? `, expires ${key.expiresAt.toISOString()}` : ""}`,
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
