import type { UrlParams } from "@effect/platform"
import { Effect, Either, Schema } from "effect"
import { Accounts } from "../../Accounts.ts"
import type { Actor } from "../../Domain/Actor.ts"
import { parseLifetime } from "../../Domain/Duration.ts"
import {
  InvalidInput,
  type NotFound,
  type PoolNotFound,
  type PoolSlugTaken,
  type RedemptionFailed,
  type RedemptionRefused,
  type SignInFailed
} from "../../Domain/Errors.ts"
import { newId } from "../../Domain/Ids.ts"
import { Strategy } from "../../Domain/Models.ts"
import { limitCeilings, PoolKeys } from "../../PoolKeys.ts"
import { Pools } from "../../Pools.ts"
import { PoolFlag } from "../../Pools/PoolsRepo.ts"
import { ResetCredits } from "../../ResetCredits.ts"
import { SignIns } from "../../SignIns.ts"
import { field } from "./Form.ts"
import type { ActionName } from "./Paths.ts"

export type ActionError =
  | InvalidInput
  | NotFound
  | PoolNotFound
  | PoolSlugTaken
  | SignInFailed
  | RedemptionRefused
  | RedemptionFailed

export type Outcome =
  | { readonly _tag: "Done"; readonly action: ActionName; readonly target: string }
  | { readonly _tag: "KeyCreated"; readonly keyId: string; readonly pool: string; readonly token: string }
  | { readonly _tag: "SignInStarted"; readonly signInId: string }

export type Action = (form: UrlParams.UrlParams) => Effect.Effect<Outcome, ActionError, Actor>

const doneMessages: Record<ActionName, string> = {
  pauseAccount: "Paused account",
  resumeAccount: "Resumed account",
  removeAccount: "Removed account",
  clearRest: "Cleared the rest of account",
  createKey: "Created key",
  revokeKey: "Revoked key",
  setKeyLimits: "Set the limits of key",
  createPool: "Created Pool",
  setPoolStrategy: "Set the strategy of Pool",
  signInAccount: "Started the sign-in",
  redeemReset: "Redeemed a saved reset for account",
  setPoolFlag: "Set a policy of Pool"
}

// The result line after a redirect, built from the action's name and an id-shaped target only, so a crafted link
// cannot make the page say anything else.
const isAction = (action: string): action is ActionName => Object.hasOwn(doneMessages, action)

export const doneMessage = (action: string, target: string): string | undefined =>
  isAction(action) && /^[A-Za-z0-9_-]{1,64}$/.test(target) ? `${doneMessages[action]} ${target}.` : undefined

export const statusOf = (error: ActionError): number =>
  error._tag === "InvalidInput"
    ? 400
    : error._tag === "PoolSlugTaken"
    ? 409
    : error._tag === "SignInFailed"
    ? (error.reason === "auth_server" ? 502 : 400)
    : error._tag === "RedemptionRefused"
    ? 409
    : error._tag === "RedemptionFailed"
    ? 502
    : 404

const fromEither = <A>(either: Either.Either<A, InvalidInput>) =>
  Either.match(either, {
    onLeft: Effect.fail,
    onRight: Effect.succeed
  })

const required = (form: UrlParams.UrlParams, name: string, label: string) => {
  const value = field(form, name)
  return value === "" ? Effect.fail(new InvalidInput({ message: `${label} is required` })) : Effect.succeed(value)
}

const strategyOf = (form: UrlParams.UrlParams) =>
  Effect.mapError(
    Schema.decodeUnknown(Strategy)(field(form, "strategy")),
    () => new InvalidInput({ message: `strategy must be one of ${Strategy.literals.join(", ")}` })
  )

// As `key set-limits` reads its options: empty keeps the limit, "none" removes it, else a whole number in range.
const limitChange = (form: UrlParams.UrlParams, name: string, label: string, max: number) => {
  const text = field(form, name)
  if (text === "") return Effect.succeed(undefined)
  if (text === "none") return Effect.succeed(null)
  return /^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= max
    ? Effect.succeed(Number(text))
    : Effect.fail(new InvalidInput({ message: `${label} must be a whole number from 1 to ${max}, or none` }))
}

const modelsChange = (form: UrlParams.UrlParams) => {
  const text = field(form, "models")
  if (text === "") return Effect.succeed(undefined)
  if (text === "none") return Effect.succeed(null)
  const models = text.split(",").map((model) => model.trim()).filter((model) => model !== "")
  return models.length > 0 && models.length <= 100
    ? Effect.succeed(models)
    : Effect.fail(new InvalidInput({ message: "models must name 1 to 100 models, comma-separated, or none" }))
}

// Each form's handler calls the service method its CLI command and MCP tool call, under the caller's Actor.
export const makeActions = Effect.gen(function*() {
  const accounts = yield* Accounts
  const keys = yield* PoolKeys
  const pools = yield* Pools
  const signIns = yield* SignIns
  const resetCredits = yield* ResetCredits

  const done = (action: ActionName, target: string) => Effect.succeed<Outcome>({ _tag: "Done", action, target })
  const onAccount = (
    action: ActionName,
    run: (id: string, form: UrlParams.UrlParams) => Effect.Effect<unknown, ActionError, Actor>
  ): Action =>
  (form) =>
    Effect.gen(function*() {
      const id = yield* required(form, "account", "account")
      yield* run(id, form)
      return yield* done(action, id)
    })

  const actions: Record<ActionName, Action> = {
    pauseAccount: onAccount("pauseAccount", accounts.pause),
    resumeAccount: onAccount("resumeAccount", accounts.resume),
    clearRest: onAccount("clearRest", accounts.clearCooldown),
    // Removing drops the account's credentials for good: the form's checkbox must say so.
    removeAccount: onAccount("removeAccount", (id, form) =>
      field(form, "confirm") === "yes"
        ? accounts.remove(id)
        : Effect.fail(new InvalidInput({ message: "tick the box to confirm removing the account" }))),
    createKey: (form) =>
      Effect.gen(function*() {
        const poolSlug = yield* required(form, "pool", "Pool")
        const name = field(form, "name")
        if (name.length > 100) return yield* new InvalidInput({ message: "name must be at most 100 characters" })
        const expires = field(form, "expires")
        const lifetimeMs = expires === "" ? undefined : yield* fromEither(parseLifetime(expires))
        const created = yield* keys.create({
          poolSlug,
          ...(name === "" ? {} : { name }),
          ...(lifetimeMs === undefined ? {} : { lifetimeMs })
        })
        return { _tag: "KeyCreated", keyId: created.key.id, pool: poolSlug, token: created.token } as const
      }),
    revokeKey: (form) =>
      Effect.flatMap(required(form, "key", "key"), (id) => Effect.zipRight(keys.revoke(id), done("revokeKey", id))),
    setKeyLimits: (form) =>
      Effect.gen(function*() {
        const id = yield* required(form, "key", "key")
        const changes = {
          requestsPerMinute: yield* limitChange(form, "rpm", "rpm", limitCeilings.requestsPerMinute),
          tokensPerDay: yield* limitChange(form, "tokens_per_day", "tokens/day", limitCeilings.tokensPerDay),
          maxConcurrent: yield* limitChange(form, "max_concurrent", "max concurrent", limitCeilings.maxConcurrent),
          allowedModels: yield* modelsChange(form)
        }
        if (Object.values(changes).every((value) => value === undefined)) {
          return yield* new InvalidInput({ message: "give at least one of rpm, tokens/day, max concurrent, models" })
        }
        yield* keys.setLimits(id, changes)
        return yield* done("setKeyLimits", id)
      }),
    createPool: (form) =>
      Effect.gen(function*() {
        const slug = yield* required(form, "slug", "slug")
        const name = field(form, "name")
        if (name.length > 100) return yield* new InvalidInput({ message: "name must be at most 100 characters" })
        const pool = yield* pools.create({ slug, strategy: yield* strategyOf(form), ...(name === "" ? {} : { name }) })
        return yield* done("createPool", pool.slug)
      }),
    // A device sign-in: a new account into a Pool, or one account signed in again; followed on a page of its own.
    signInAccount: (form) =>
      Effect.gen(function*() {
        const account = field(form, "account")
        const target = account === ""
          ? { poolSlug: yield* required(form, "pool", "Pool") }
          : { relogin: account }
        const started = yield* signIns.startDevice(target)
        return { _tag: "SignInStarted", signInId: started.id } as const
      }),
    // As `account redeem-reset`: one saved reset spent on the account, which must be resting at its limit.
    redeemReset: onAccount("redeemReset", (id) => resetCredits.redeemAccount(id, "operator", newId("rdm"), "operator")),
    // As `pool set-auto-redeem` and `pool set-v1`.
    setPoolFlag: (form) =>
      Effect.gen(function*() {
        const flag = yield* Effect.mapError(
          Schema.decodeUnknown(PoolFlag)(field(form, "flag")),
          () => new InvalidInput({ message: `flag must be one of ${PoolFlag.literals.join(", ")}` })
        )
        const on = field(form, "on")
        if (on !== "true" && on !== "false") return yield* new InvalidInput({ message: "on must be true or false" })
        const pool = yield* pools.setFlag(yield* required(form, "pool", "Pool"), flag, on === "true")
        return yield* done("setPoolFlag", pool.slug)
      }),
    setPoolStrategy: (form) =>
      Effect.gen(function*() {
        const pool = yield* pools.setStrategy(yield* required(form, "pool", "Pool"), yield* strategyOf(form))
        return yield* done("setPoolStrategy", pool.slug)
      })
  }
  return actions
})
