import { Effect, Either, Schema } from "effect"
import { parseLifetime } from "../Domain/Duration.ts"
import { InvalidInput } from "../Domain/Errors.ts"
import { limitCeilings, PoolKeys } from "../PoolKeys.ts"
import { FleetRepo } from "./FleetRepo.ts"
import { findKey, KeyId, KeyView } from "./KeyTools.ts"
import { defineTool } from "./Tool.ts"

const limit = (max: number, description: string) =>
  Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(1, max))).annotations({ description }))

const Limits = Schema.Struct({
  keyId: KeyId,
  requestsPerMinute: limit(
    limitCeilings.requestsPerMinute,
    "requests per minute, 1 to 1000000; null removes the limit"
  ),
  tokensPerDay: limit(limitCeilings.tokensPerDay, "tokens per day, 1 to 10^12; null removes the limit"),
  maxConcurrent: limit(limitCeilings.maxConcurrent, "concurrent requests, 1 to 10000; null removes the limit"),
  allowedModels: Schema.optional(
    Schema.NullOr(Schema.Array(Schema.NonEmptyTrimmedString).pipe(Schema.minItems(1), Schema.maxItems(100)))
      .annotations({ description: "model slugs this key may use; null allows every model" })
  )
})

export const keyAdminTools = Effect.gen(function*() {
  const keys = yield* PoolKeys
  const fleet = yield* FleetRepo

  const setLimits = ({ keyId, ...changes }: typeof Limits.Type) =>
    Effect.gen(function*() {
      if (Object.keys(changes).length === 0) {
        return yield* new InvalidInput({
          message: "give at least one of requestsPerMinute, tokensPerDay, maxConcurrent, allowedModels"
        })
      }
      yield* keys.setLimits(keyId, changes)
      return yield* findKey(fleet, keyId)
    })

  return [
    defineTool({
      name: "create_key",
      description: "Create a Pool key. The secret (token) is in this result only, once: it is not stored. Audited.",
      scope: "admin",
      input: Schema.Struct({
        pool: Schema.String.annotations({ description: "a Pool slug" }),
        name: Schema.optional(Schema.NonEmptyTrimmedString.pipe(Schema.maxLength(100))),
        expires: Schema.optional(Schema.String.annotations({ description: "lifetime such as 90m, 12h, 30d, 8w" }))
      }),
      output: Schema.Struct({ key: KeyView, token: Schema.String }),
      run: (input) =>
        Effect.gen(function*() {
          const lifetimeMs = input.expires === undefined ?
            undefined :
            yield* Either.match(parseLifetime(input.expires), {
              onLeft: Effect.fail,
              onRight: Effect.succeed
            })
          const created = yield* keys.create({
            poolSlug: input.pool,
            ...(input.name === undefined ? {} : { name: input.name }),
            ...(lifetimeMs === undefined ? {} : { lifetimeMs })
          })
          return { key: yield* findKey(fleet, created.key.id), token: created.token }
        })
    }),
    defineTool({
      name: "revoke_key",
      description: "Revoke a Pool key: requests with it are refused from now on. Audited.",
      scope: "admin",
      input: Schema.Struct({ keyId: KeyId }),
      output: Schema.Struct({ key: KeyView }),
      run: ({ keyId }) =>
        keys.revoke(keyId).pipe(Effect.zipRight(findKey(fleet, keyId)), Effect.map((key) => ({ key })))
    }),
    defineTool({
      name: "set_key_limits",
      description: "Set a Pool key's limits. Omitted fields stay as they are; null removes a limit. Audited.",
      scope: "admin",
      input: Limits,
      output: Schema.Struct({ key: KeyView }),
      run: (input) => Effect.map(setLimits(input), (key) => ({ key }))
    })
  ]
})
