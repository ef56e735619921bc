import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Console, Effect, Option } from "effect"
import { Accounts } from "../Accounts.ts"
import { InvalidInput } from "../Domain/Errors.ts"
import { newId } from "../Domain/Ids.ts"
import { makeAccountViews } from "../Mcp/AccountView.ts"
import { Pools } from "../Pools.ts"
import { ResetCredits } from "../ResetCredits.ts"
import { describeAccount } from "./AccountLine.ts"
import { loginCommand, reloginCommand } from "./LoginCommands.ts"
import { emit, emitList, json } from "./Output.ts"

// An auth.json's refresh token is single-use per rotation: once the gateway refreshes it, the machine it was copied
// from holds a dead one, and the two would push each other into reauth_required.
const handOverWarning =
  "warning: the imported refresh token now belongs to the pooler; sign the machine it came from in again (codex login), " +
  "or better, add accounts with `account login`"

// Files a folder holds at most, and an auth.json's size at most, when a folder is imported.
const maxFolderFiles = 1000
const maxAuthJsonBytes = 1024 * 1024

const importCommand = Command.make("import", {
  pool: Options.text("pool").pipe(Options.withDescription("slug of the pool to add the account to")),
  file: Args.text({ name: "auth.json or folder" }),
  json
}, (input) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const accounts = yield* Accounts
    yield* (yield* Pools).findBySlug(input.pool)
    const unreadable = (path: string) => (error: PlatformError) =>
      new InvalidInput({
        message: `cannot read ${path}: ${error._tag === "SystemError" ? error.reason : error.message}`
      })
    const info = yield* fs.stat(input.file).pipe(Effect.mapError(unreadable(input.file)))
    if (info.type !== "Directory") {
      const text = yield* fs.readFileString(input.file).pipe(Effect.mapError(unreadable(input.file)))
      const { account, created } = yield* accounts.importAuthJson(input.pool, text)
      yield* Console.error(handOverWarning)
      return yield* emit(input.json, { account, created }, () =>
        `${created ? "imported" : "updated"} account ${describeAccount(account)}`)
    }
    // A folder: every auth.json-shaped file in it (not its subfolders), each reported; the rest skipped, saying why.
    const names = (yield* fs.readDirectory(input.file).pipe(Effect.mapError(unreadable(input.file)))).sort()
    if (names.length > maxFolderFiles) {
      return yield* new InvalidInput({ message: `${input.file} holds more than ${maxFolderFiles} files` })
    }
    const reports = yield* Effect.forEach(names, (name) =>
      Effect.gen(function*() {
        const path = `${input.file.replace(/\/+$/, "")}/${name}`
        const entry = yield* Effect.either(fs.stat(path))
        if (entry._tag === "Left" || entry.right.type !== "File") {
          return null
        }
        if (Number(entry.right.size) > maxAuthJsonBytes) {
          return { file: name, skipped: "larger than 1 MiB" }
        }
        const imported = yield* fs.readFileString(path).pipe(
          Effect.mapError(unreadable(path)),
          Effect.flatMap((text) =>
            accounts.importAuthJson(input.pool, text)
          ),
          Effect.either
        )
        if (imported._tag === "Left") return { file: name, skipped: imported.left.message }
        return { file: name, account: imported.right.account, created: imported.right.created }
      }))
    const outcomes = reports.filter((report) => report !== null)
    const imported = outcomes.filter((report) => "account" in report)
    yield* emit(input.json, outcomes, () =>
      outcomes.map((report) =>
        "account" in report
          ? `${report.file}: ${report.created ? "imported" : "updated"} account ${describeAccount(report.account)}`
          : `${report.file}: skipped, ${report.skipped}`
      ).join("\n") || `${input.file} holds no files`)
    if (imported.length === 0) {
      return yield* new InvalidInput({ message: `no auth.json in ${input.file} could be imported` })
    }
    yield* Console.error(handOverWarning)
  })).pipe(
    Command.withDescription("import a ChatGPT account from a Codex CLI auth.json, or every auth.json in a folder")
  )

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
      yield* emit(input.json, account, () =>
        `${name === "pause" ? "paused" : "resumed"} account ${describeAccount(account)}`)
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
