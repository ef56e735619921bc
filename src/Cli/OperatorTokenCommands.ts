import { Args, Command, Options } from "@effect/cli"
import { Effect, Option, Struct } from "effect"
import { OperatorScope } from "../Domain/Models.ts"
import { OperatorTokens } from "../OperatorTokens.ts"
import { emit, emitList, emitSecret, json } from "./Output.ts"

const create = Command.make("create", {
  name: Options.text("name").pipe(Options.optional),
  scope: Options.choice("scope", OperatorScope.literals).pipe(Options.withDefault("read" as const)),
  json
}, (input) =>
  Effect.gen(function*() {
    const created = yield* (yield* OperatorTokens).create({
      scope: input.scope,
      ...Option.match(input.name, { onNone: () => ({}), onSome: (name) => ({ name }) })
    })
    const operatorToken = Struct.omit(created.operatorToken, "secretHash")
    yield* emitSecret(
      input.json,
      { operatorToken, token: created.token },
      `created operator token ${operatorToken.id} "${operatorToken.name}" with scope ${operatorToken.scope}`,
      created.token
    )
  })).pipe(Command.withDescription("create an operator token for /mcp (the secret is shown once)"))

const list = Command.make("list", { json }, (input) =>
  Effect.gen(function*() {
    const tokens = yield* (yield* OperatorTokens).list
    yield* emitList(input.json, tokens, ["ID", "NAME", "SCOPE", "STATUS", "LAST USED"], (token) => [
      token.id,
      token.name,
      token.scope,
      token.status,
      token.lastUsedAt
    ], "no operator tokens yet: codex-pooler operator-token create --scope read|admin")
  })).pipe(Command.withDescription("list operator tokens (never their secrets)"))

const revoke = Command.make("revoke", { id: Args.text({ name: "id" }), json }, (input) =>
  Effect.gen(function*() {
    yield* (yield* OperatorTokens).revoke(input.id)
    yield* emit(input.json, { revoked: input.id }, () => `revoked operator token ${input.id}`)
  })).pipe(Command.withDescription("revoke an operator token"))

export const operatorTokenCommand = Command.make("operator-token").pipe(
  Command.withDescription("manage operator tokens for the MCP endpoint"),
  Command.withSubcommands([create, list, revoke])
)
