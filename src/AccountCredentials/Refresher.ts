import { SqlClient } from "@effect/sql"
import { Effect, Option, Redacted } from "effect"
import { decodeJwtClaims } from "../Accounts/AuthJson.ts"
import { tokenAad } from "../Accounts/Sealing.ts"
import { AuditLog } from "../AuditLog.ts"
import { DatabaseUrl } from "../Config.ts"
import { Actor, type ActorShape } from "../Domain/Actor.ts"
import { Metrics } from "../Metrics.ts"
import { Vault } from "../Vault.ts"
import { credentialOf, type UpstreamCredential } from "./Credential.ts"
import { CredentialsRepo, type SealedRow } from "./CredentialsRepo.ts"
import { AccountUnavailable } from "./Errors.ts"
import { RefreshClient, type RefreshedTokens, type RefreshReason } from "./RefreshClient.ts"
import { makeSingleFlight } from "./SingleFlight.ts"

const system: ActorShape = { kind: "system", id: null }

const expiryOf = (accessToken: string) =>
  decodeJwtClaims(accessToken).pipe(
    Option.flatMapNullable((claims) => claims.exp),
    Option.match({ onNone: () => null, onSome: (seconds) => new Date(seconds * 1000) })
  )

// Redeems an account's refresh token at most once: one refresh per account at a time in this process (single
// flight) and, on PostgreSQL, across instances (row lock, then the version is checked again).
export class Refresher extends Effect.Service<Refresher>()("Gateway/AccountCredentials/Refresher", {
  scoped: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* CredentialsRepo
    const client = yield* RefreshClient
    const vault = yield* Vault
    const audit = yield* AuditLog
    const metrics = yield* Metrics
    // Embedded PGlite is one process with one connection: a transaction held across the HTTP call would stall
    // every other query, and the in-process single flight already excludes a second refresh.
    const shared = Option.isSome(yield* DatabaseUrl)
    const flight = yield* makeSingleFlight<UpstreamCredential, AccountUnavailable>()

    const unavailable = (accountId: string, reason: AccountUnavailable["reason"]) =>
      new AccountUnavailable({ accountId, reason })

    const open = (row: SealedRow) =>
      vault.decrypt(row.accessTokenEnc, tokenAad(row.id, "access")).pipe(
        Effect.map((token) => credentialOf(row, Redacted.make(token))),
        Effect.orDie
      )

    const persist = (row: SealedRow, tokens: RefreshedTokens) =>
      Effect.gen(function*() {
        const seal = (field: "access" | "refresh" | "id", token: Option.Option<string>) =>
          Option.map(token, (plaintext) => vault.encrypt(plaintext, tokenAad(row.id, field)))
        const saved = yield* repo.saveRefreshed({
          id: row.id,
          accessTokenEnc: Option.getOrElse(seal("access", tokens.accessToken), () => row.accessTokenEnc),
          refreshTokenEnc: Option.getOrElse(seal("refresh", tokens.refreshToken), () => row.refreshTokenEnc),
          idTokenEnc: Option.getOrNull(seal("id", tokens.idToken)),
          accessExpiresAt: Option.match(tokens.accessToken, { onNone: () => row.accessExpiresAt, onSome: expiryOf })
        })
        if (Option.isNone(saved)) return yield* unavailable(row.id, "not_active")
        return yield* Option.match(tokens.accessToken, {
          onNone: () => open(saved.value),
          onSome: (token) => Effect.succeed(credentialOf(saved.value, Redacted.make(token)))
        })
      })

    const reauthRequired = (row: SealedRow, code: string, reason: RefreshReason) =>
      Effect.gen(function*() {
        const marked = yield* repo.markReauthRequired(row.id, row.credentialsVersion)
        if (Option.isNone(marked)) return
        const details = { code, refreshReason: reason }
        yield* audit.record({ action: "account.reauth_required", targetKind: "account", targetId: row.id, details })
      }).pipe(
        sql.withTransaction,
        Effect.orDie,
        Effect.provideService(Actor, system),
        Effect.zipRight(Effect.logWarning(`refresh token rejected (${code}): the account must be signed in again`)),
        Effect.zipRight(unavailable(row.id, "reauth_required"))
      )

    const redeem = (accountId: string, staleVersion: number, reason: RefreshReason) =>
      Effect.gen(function*() {
        const found = yield* (shared ? repo.lock(accountId) : repo.find(accountId))
        if (Option.isNone(found) || found.value.status !== "active") return yield* unavailable(accountId, "not_active")
        const row = found.value
        if (row.credentialsVersion > staleVersion) return yield* open(row)
        const refreshToken = yield* Effect.orDie(vault.decrypt(row.refreshTokenEnc, tokenAad(accountId, "refresh")))
        // Once the auth server has answered, its rotated refresh token is the only valid one: it is stored even if
        // the service is shutting down, or the account would need a new login.
        return yield* Effect.uninterruptibleMask((restore) =>
          restore(client.refresh(Redacted.make(refreshToken), reason)).pipe(
            Effect.matchEffect({
              onSuccess: (tokens) => Effect.zipRight(metrics.refreshed(reason, "ok"), persist(row, tokens)),
              onFailure: (error) =>
                error._tag === "RefreshRejected"
                  ? Effect.zipRight(metrics.refreshed(reason, "rejected"), reauthRequired(row, error.code, reason))
                  : Effect.logWarning(`access token refresh failed: ${error.detail}`).pipe(
                    Effect.zipRight(metrics.refreshed(reason, "failed")),
                    Effect.zipRight(unavailable(accountId, "refresh_failed"))
                  )
            })
          )
        )
      }).pipe(Effect.annotateLogs({ accountId, refreshReason: reason }))

    // The outcome leaves the transaction as a value, so that marking an account reauth_required commits too.
    const refreshOnce = (accountId: string, staleVersion: number, reason: RefreshReason) => {
      const attempt = redeem(accountId, staleVersion, reason)
      return flight(
        accountId,
        shared ? attempt.pipe(Effect.either, sql.withTransaction, Effect.orDie, Effect.flatten) : attempt
      )
    }

    // A caller that joined a flight started for an older version may get back the very token that just failed it.
    const refresh = Effect.fn("Refresher.refresh")(
      (accountId: string, staleVersion: number, reason: RefreshReason) =>
        refreshOnce(accountId, staleVersion, reason).pipe(
          Effect.flatMap((credential) =>
            credential.version > staleVersion
              ? Effect.succeed(credential)
              : refreshOnce(accountId, staleVersion, reason)
          )
        )
    )

    return { refresh } as const
  }),
  dependencies: [CredentialsRepo.Default, RefreshClient.Default, Vault.Default, AuditLog.Default, Metrics.Default]
}) {}
