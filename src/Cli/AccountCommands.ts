import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Effect, Option } from "effect"
import { Accounts } from "../Accounts.ts"
import { InvalidInput } from "../Domain/Errors.ts"
import { newId } from "../Domain/Ids.ts"
import type { Account } from "../Domain/Models.ts"
import { makeAccountViews } from "../Mcp/AccountView.ts"
import { ResetCredits } from "../ResetCredits.ts"
import { loginCommand, reloginCommand } from "./LoginCommands.ts"
import { emit, emitList, json } from "./Output.ts"

const describe = (account: Account) =>
  `${account.id}  ${account.email ?? "(no email)"}  plan ${account.plan ?? "unknown"}  ${account.status}  pools ${
    account.pools.join(",") || "-"
  }`

const importCommand = Command.make("import", {
  pool: Options.text("pool").pipe(Options.withDescription("slug of the pool to add the account to")),
  file: Args.text({ name: "auth.json" }),
  json
}, (input) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(input.file).pipe(
      Effect.mapError((error) =>
        new InvalidInput({
          message: `cannot read ${input.file}: ${error._tag === "SystemError" ? error.reason : error.message}`
        })
      )
    )
    const { account, created } = yield* (yield* Accounts).importAuthJson(input.pool, text)
    yield* emit(input.json, { account, created }, () =>
      `${created ? "imported" : "updated"} account ${describe(account)}`)
  })).pipe(Command.withDescription("import a ChatGPT account from a Codex CLI auth.json"))

const list = Command.make("list", { json }, (input) =>
  Effect.gen(function*() {
    const accounts = yield* (yield* Accounts).list
    const headers = ["ID", "EMAIL", "PLAN", "STATUS", "POOLS", "TOKEN EXPIRES", "RESET CREDITS"]
    yield* emitList(input.json, accounts, headers, (account) => [
      account.id,
      account.email,
      account.plan,
      account.status,
      account.pools,
      account.accessExpiresAt,
      account.resetCredits
    ], "no accounts yet: codex-pooler account import --pool <slug> <auth.json>")
  })).pipe(Command.withDescription("list accounts"))

const id = Args.text({ name: "id" })

const statusCommand = (name: "pause" | "resume", description: string) =>
  Command.make(name, { id, json }, (input) =>
    Effect.gen(function*() {
      const accounts = yield* Accounts
      const account = yield* (name === "pause" ? accounts.pause(input.id) : accounts.resume(input.id))
      yield* emit(input.json, account, () => `${name === "pause" ? "paused" : "resumed"} account ${describe(account)}`)
    })).pipe(Command.withDescription(description))

// Printed as the MCP tools show an account: e-mail masked, with its cooldown and circuit.
const clearCooldown = Command.make("clear-cooldown", { id, json }, (input) =>
  Effect.gen(function*() {
    const views = yield* makeAccountViews
    const account = yield* views.one(yield* (yield* Accounts).clearCooldown(input.id))
    const email = account.email ?? "(no email)"
    yield* emit(input.json, account, () =>
      `cleared the cooldown of account ${account.id} ${email}: circuit ${account.circuit.state}, ${account.status}`)
  })).pipe(Command.withDescription("end an account's cooldown and close its circuit so it is selected again"))

// One saved reset spent on the account; each run is its own redemption unless --request-id names an earlier one.
const redeemReset = Command.make("redeem-reset", {
  id,
  requestId: Options.text("request-id").pipe(
    Options.withDescription("redeem under this id: running again with it redeems nothing twice"),
    Options.optional
  ),
  json
}, (input) =>
  Effect.gen(function*() {
    const requestId = Option.getOrElse(input.requestId, () => newId("rdm"))
    const redemption = yield* (yield* ResetCredits).redeemAccount(input.id, "operator", requestId, "operator")
    yield* emit(input.json, redemption, () =>
      `${
        redemption.replayed ? "already redeemed" : "redeemed"
      } a saved reset for account ${input.id}: ${redemption.code}, ${redemption.windowsReset} window(s) reset (request ${redemption.requestId})`)
  })).pipe(Command.withDescription("spend one of an account's saved usage-limit resets; it must be at its limit"))

const remove = Command.make("remove", { id, json }, (input) =>
  Effect.gen(function*() {
    yield* (yield* Accounts).remove(input.id)
    yield* emit(input.json, { removed: input.id }, () => `removed account ${input.id} and its stored credentials`)
  })).pipe(Command.withDescription("remove an account and delete its credentials"))

export const accountCommand = Command.make("account").pipe(
  Command.withDescription("manage upstream ChatGPT accounts"),
  Command.withSubcommands([
    loginCommand,
    reloginCommand,
    importCommand,
    list,
    statusCommand("pause", "stop routing requests to an account"),
    statusCommand("resume", "route requests to a paused account again"),
    clearCooldown,
    redeemReset,
    remove
  ])
)
