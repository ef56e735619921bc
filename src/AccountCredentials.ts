import { Clock, Effect, Either, Option, Redacted } from "effect"
import { credentialOf, type UpstreamCredential } from "./AccountCredentials/Credential.ts"
import { CredentialsRepo, type SealedRow } from "./AccountCredentials/CredentialsRepo.ts"
import { AccountUnavailable } from "./AccountCredentials/Errors.ts"
import type { RefreshReason } from "./AccountCredentials/RefreshClient.ts"
import { Refresher } from "./AccountCredentials/Refresher.ts"
import { tokenAad } from "./Accounts/Sealing.ts"
import { RefreshSkewSeconds } from "./Config.ts"
import { Vault } from "./Vault.ts"

export type { UpstreamCredential } from "./AccountCredentials/Credential.ts"

// Long enough to spare the database on a busy account, short enough that a paused account stops being served soon.
const CACHE_TTL_MS = 2_000

interface Cached {
  readonly credential: UpstreamCredential
  readonly checkedAt: number
}

export class AccountCredentials extends Effect.Service<AccountCredentials>()("Gateway/AccountCredentials", {
  effect: Effect.gen(function*() {
    const repo = yield* CredentialsRepo
    const refresher = yield* Refresher
    const vault = yield* Vault
    const skewMs = (yield* RefreshSkewSeconds) * 1000
    const cache = new Map<string, Cached>()

    const expiresSoon = (expiresAt: Date | null, now: number) =>
      expiresAt !== null && expiresAt.getTime() - skewMs <= now

    const remember = (credential: UpstreamCredential) =>
      Effect.map(Clock.currentTimeMillis, (checkedAt) => {
        cache.set(credential.accountId, { credential, checkedAt })
        return credential
      })

    const forget = (accountId: string) => Effect.sync(() => cache.delete(accountId))

    // The token is decrypted again only when the row's version has moved past the cached one.
    const open = (row: SealedRow) => {
      const cached = cache.get(row.id)?.credential
      return cached?.version === row.credentialsVersion
        ? Effect.succeed(cached)
        : vault.decrypt(row.accessTokenEnc, tokenAad(row.id, "access")).pipe(
          Effect.map((token) => credentialOf(row, Redacted.make(token))),
          Effect.orDie
        )
    }

    const activeRow = (accountId: string) =>
      Effect.flatMap(repo.find(accountId), (found) =>
        Option.isSome(found) && found.value.status === "active"
          ? Effect.succeed(found.value)
          : Effect.fail(new AccountUnavailable({ accountId, reason: "not_active" })))

    const refresh = (accountId: string, staleVersion: number, reason: RefreshReason) =>
      refresher.refresh(accountId, staleVersion, reason).pipe(Effect.flatMap(remember))

    // On every request: untraced, like the rest of the request path (a traced Effect.fn captures a stack trace and
    // opens a span on each call; together they were 1.3-1.6 % of the gateway's CPU).
    const get = Effect.fnUntraced(function*(accountId: string) {
      const now = yield* Clock.currentTimeMillis
      const cached = cache.get(accountId)
      if (cached && now - cached.checkedAt < CACHE_TTL_MS && !expiresSoon(cached.credential.expiresAt, now)) {
        return cached.credential
      }
      const row = yield* activeRow(accountId)
      if (expiresSoon(row.accessExpiresAt, now)) {
        return yield* refresh(accountId, row.credentialsVersion, "proactive_expiry")
      }
      return yield* remember(yield* open(row))
    }, (effect, accountId) => Effect.tapError(effect, () => forget(accountId)))

    // Codex's own recovery: a 401 means the token is stale, unless someone has already replaced it.
    const refreshAfterUnauthorized = Effect.fn("AccountCredentials.refreshAfterUnauthorized")(
      function*(accountId: string, staleVersion: number) {
        yield* Effect.annotateCurrentSpan("accountId", accountId)
        const row = yield* activeRow(accountId)
        if (row.credentialsVersion > staleVersion) return yield* remember(yield* open(row))
        return yield* refresh(accountId, staleVersion, "unauthorized_recovery")
      },
      (effect, accountId) => Effect.tapError(effect, () => forget(accountId))
    )

    // `call` with the account's credential; when its outcome says the token was refused (a 401), once more with a
    // refreshed one.
    const withCredential = <A, E, R>(
      accountId: string,
      call: (credential: UpstreamCredential) => Effect.Effect<A, E, R>,
      refused: (outcome: Either.Either<A, E>) => boolean
    ) =>
      Effect.gen(function*() {
        const credential = yield* get(accountId)
        const outcome = yield* Effect.either(call(credential))
        if (!refused(outcome)) return yield* outcome
        return yield* call(yield* refreshAfterUnauthorized(accountId, credential.version))
      })

    return { get, refreshAfterUnauthorized, withCredential } as const
  }),
  dependencies: [CredentialsRepo.Default, Refresher.Default, Vault.Default]
}) {}
