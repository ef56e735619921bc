import type { Headers } from "@effect/platform"
import { Clock, Effect } from "effect"
import { createHash } from "node:crypto"
import { makeSingleFlight } from "./AccountCredentials/SingleFlight.ts"
import { bearerOf } from "./Domain/Bearer.ts"
import { CredentialRejected } from "./Domain/Errors.ts"
import { poolKeyOf } from "./Domain/PoolSignIn.ts"
import { PoolKeys } from "./PoolKeys.ts"
import type { KeyForAuth, KeyLimits } from "./PoolKeys/PoolKeysRepo.ts"
import { V1Disabled } from "./Proxy/Errors.ts"

export interface AuthenticatedKey {
  readonly keyId: string
  readonly poolId: string
  readonly poolSlug: string
  readonly limits: KeyLimits
  // the Pool's /v1 is on
  readonly v1: boolean
}

// A verified key is remembered this long, so the hot path skips the database; revocation takes effect within it.
const cacheMs = 2_000

export class PoolAuth extends Effect.Service<PoolAuth>()("Gateway/PoolAuth", {
  scoped: Effect.gen(function*() {
    const keys = yield* PoolKeys
    // Requests of one key arriving while its entry is stale share one lookup.
    const flight = yield* makeSingleFlight<KeyForAuth, Effect.Effect.Error<ReturnType<typeof keys.verify>>>()
    const verified = new Map<string, { readonly key: AuthenticatedKey; readonly until: number }>()

    const remember = (digest: string, key: KeyForAuth, now: number) => {
      if (verified.size > 10_000) verified.clear()
      const limits = {
        requestsPerMinute: key.requestsPerMinute,
        tokensPerDay: key.tokensPerDay,
        maxConcurrent: key.maxConcurrent,
        allowedModels: key.allowedModels
      }
      const entry = {
        key: { keyId: key.id, poolId: key.poolId, poolSlug: key.poolSlug, limits, v1: key.poolV1Enabled },
        until: now + cacheMs
      }
      verified.set(digest, entry)
      return entry.key
    }

    // On every request and every websocket response.create: untraced (no stack trace, no span per call).
    const authenticate = Effect.fnUntraced(function*(headers: Headers.Headers) {
      const bearer = bearerOf(headers["authorization"])
      if (bearer === undefined) return yield* new CredentialRejected({ kind: "cpk", reason: "missing" })
      const token = poolKeyOf(bearer)
      const digest = createHash("sha256").update(token).digest("base64")
      const now = yield* Clock.currentTimeMillis
      const cached = verified.get(digest)
      if (cached !== undefined && cached.until > now) return cached.key
      const key = yield* flight(digest, Effect.tap(keys.verify(token), (key) => keys.touch(key.id)))
      return remember(digest, key, now)
    })

    // The OpenAI-compatible /v1: the key, if its Pool has /v1 on.
    const authenticateV1 = (headers: Headers.Headers) =>
      Effect.flatMap(authenticate(headers), (key) => key.v1 ? Effect.succeed(key) : Effect.fail(new V1Disabled()))

    return { authenticate, authenticateV1 } as const
  }),
  dependencies: [PoolKeys.Default]
}) {}
