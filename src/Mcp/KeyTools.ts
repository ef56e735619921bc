import { Effect, Schema } from "effect"
import { NotFound } from "../Domain/Errors.ts"
import { FleetRepo, type KeyDetail } from "./FleetRepo.ts"
import { defineTool, Timestamp } from "./Tool.ts"

export const KeyView = Schema.Struct({
  id: Schema.String,
  prefix: Schema.String,
  pool: Schema.String,
  name: Schema.String,
  status: Schema.Literal("active", "revoked"),
  expiresAt: Timestamp,
  revokedAt: Timestamp,
  createdAt: Schema.Date,
  limits: Schema.Struct({
    requestsPerMinute: Schema.NullOr(Schema.Number),
    tokensPerDay: Schema.NullOr(Schema.Number),
    maxConcurrent: Schema.NullOr(Schema.Number),
    allowedModels: Schema.NullOr(Schema.Array(Schema.String))
  }),
  usage: Schema.Struct({
    lastUsedAt: Timestamp,
    requestsLast24h: Schema.Number,
    tokensLast24h: Schema.Number,
    requestsTotal: Schema.Number
  })
})

// Only the public part of a key: its secret is never stored, so it cannot leak from here.
export const keyView = (key: KeyDetail): typeof KeyView.Type => ({
  id: key.id,
  prefix: `cpk_${key.id}_`,
  pool: key.poolSlug,
  name: key.name,
  status: key.status,
  expiresAt: key.expiresAt,
  revokedAt: key.revokedAt,
  createdAt: key.createdAt,
  limits: {
    requestsPerMinute: key.requestsPerMinute,
    tokensPerDay: key.tokensPerDay,
    maxConcurrent: key.maxConcurrent,
    allowedModels: key.allowedModels
  },
  usage: {
    lastUsedAt: key.lastUsedAt,
    requestsLast24h: key.requests24h,
    tokensLast24h: key.tokens24h,
    requestsTotal: key.requestsTotal
  }
})

export const KeyId = Schema.String.annotations({ description: "a Pool key id (the 16 hex digits after cpk_)" })

export const findKey = (fleet: FleetRepo, id: string) =>
  Effect.flatMap(
    fleet.key(id),
    (key) => key === undefined ? Effect.fail(new NotFound({ kind: "key", id })) : Effect.succeed(keyView(key))
  )

export const keyTools = Effect.gen(function*() {
  const fleet = yield* FleetRepo
  return [
    defineTool({
      name: "list_keys",
      description: "List Pool keys: prefix, Pool, status, expiry, limits and usage (never the secret).",
      scope: "read",
      input: Schema.Struct({
        pool: Schema.optional(Schema.String.annotations({ description: "a Pool slug" })),
        status: Schema.optional(Schema.Literal("active", "revoked"))
      }),
      output: Schema.Struct({ keys: Schema.Array(KeyView) }),
      run: (input) =>
        Effect.map(fleet.keys, (keys) => ({
          keys: keys
            .filter((key) =>
              (input.pool === undefined || key.poolSlug === input.pool) &&
              (input.status === undefined || key.status === input.status)
            )
            .map(keyView)
        }))
    }),
    defineTool({
      name: "get_key",
      description: "One Pool key: prefix, Pool, status, expiry, limits and usage (never the secret).",
      scope: "read",
      input: Schema.Struct({ keyId: KeyId }),
      output: Schema.Struct({ key: KeyView }),
      run: ({ keyId }) => Effect.map(findKey(fleet, keyId), (key) => ({ key }))
    })
  ]
})
