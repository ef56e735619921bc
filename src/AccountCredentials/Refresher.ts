import { SqlClient } from "@effect/sql"
import { Effect, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { tokenAad } from "../Accounts/Sealing.ts"
import { AuditLog } from "../AuditLog.ts"
import { Actor, type ActorShape } from "../Domain/Actor.ts"
import { Metrics } from "../Metrics.ts"
import { RoutingChanges } from "../RoutingView/Changes.ts"
import { Vault } from "../Vault.ts"
import { credentialOf, type UpstreamCredential } from "./Credential.ts"
import { CredentialsRepo, type SealedRow } from "./CredentialsRepo.ts"
import { AccountUnavailable } from "./Errors.ts"
import { REFRESH_TIMEOUT_SECONDS, RefreshClient, type RefreshReason } from "./RefreshClient.ts"
import { makeSaveRefreshed } from "./SaveRefreshed.ts"
import { makeSingleFlight } from "./SingleFlight.ts"

const system: ActorShape = { kind: "system", id: null }

// Outlives the auth server call (its timeout) and the save after it; a lease left by a killed instance lets another
// instance take over after this long.
const LEASE_SECONDS = 2 * REFRESH_TIMEOUT_SECONDS
const WAIT_POLL_MS = 200
// An instance waiting on another's lease gives up once that lease could have run out and been taken over.
const WAIT_ROUNDS = Math.ceil((LEASE_SECONDS + 5) * 1000 / WAIT_POLL_MS)

// Redeems an account's refresh token at most once: one refresh per account at a time in this process (single
// flight) and across instances (a lease on the account row, claimed at the version it redeems). The save is a
// compare-and-set on that version, so credentials re-imported meanwhile are never overwritten.
export class Refresher extends Effect.Service<Refresher>()("Gateway/AccountCredentials/Refresher", {
  scoped: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* CredentialsRepo
    const client = yield* RefreshClient
    const vault = yield* Vault
    const audit = yield* AuditLog
    const metrics = yield* Metrics
    const changes = yield* RoutingChanges
    const flight = yield* makeSingleFlight<UpstreamCredential, AccountUnavailable>()
    const persist = yield* makeSaveRefreshed

    const unavailable = (accountId: string, reason: AccountUnavailable["reason"]) =>
      new AccountUnavailable({ accountId, reason })

    const open = (row: SealedRow) =>
      vault.decrypt(row.accessTokenEnc, tokenAad(row.id, "access")).pipe(
        Effect.map((token) => credentialOf(row, Redacted.make(token))),
        Effect.orDie
      )

    const reauthRequired = (row: SealedRow, code: string, reason: RefreshReason) =>
      Effect.gen(function*() {
        const marked = yield* repo.markReauthRequired(row.id, row.credentialsVersion)
        if (Option.isNone(marked)) return
        const details = { code, refreshReason: reason }
        yield* audit.record({ action: "account.reauth_required", targetKind: "account", targetId: row.id, details })
      }).pipe(
        sql.withTransaction,
        Effect.orDie,
        // the account is out of routing from now on, here at once, elsewhere by the change notice
        changes.after,
        Effect.provideService(Actor, system),
        Effect.zipRight(Effect.logWarning(`refresh token rejected (${code}): the account must be signed in again`)),
        Effect.zipRight(unavailable(row.id, "reauth_required"))
      )

    const redeemClaimed = (row: SealedRow, reason: RefreshReason) =>
      Effect.gen(function*() {
        const refreshToken = yield* Effect.orDie(vault.decrypt(row.refreshTokenEnc, tokenAad(row.id, "refresh")))
        // Once the auth server has answered, its rotated refresh token is the only valid one: it is stored even if
        // the service is shutting down, or the account would need a new login.
        return yield* Effect.uninterruptibleMask((restore) =>
          restore(client.refresh(Redacted.make(refreshToken), reason)).pipe(
            Effect.matchEffect({
              onSuccess: (tokens) =>
                Effect.zipRight(metrics.refreshed(reason, "ok"), persist(row, refreshToken, tokens)),
              onFailure: (error) =>
                error._tag === "RefreshRejected"
                  ? Effect.zipRight(metrics.refreshed(reason, "rejected"), reauthRequired(row, error.code, reason))
                  : Effect.logWarning(`access token refresh failed: ${error.detail}`).pipe(
                    Effect.zipRight(metrics.refreshed(reason, "failed")),
                    Effect.zipRight(unavailable(row.id, "refresh_failed"))
                  )
            })
          )
        )
      })

    // Claims the lease at the version seen, or waits for whoever holds it: their result shows as a new version.
    const redeem = (accountId: string, staleVersion: number, reason: RefreshReason) =>
      Effect.gen(function*() {
        for (let round = 0; round < WAIT_ROUNDS; round++) {
          const found = yield* repo.find(accountId)
          if (Option.isNone(found) || found.value.status !== "active") {
            return yield* unavailable(accountId, "not_active")
          }
          const { credentialsVersion } = found.value
          if (credentialsVersion > staleVersion) return yield* open(found.value)
          const leaseId = randomBytes(12).toString("base64url")
          const claim = { id: accountId, credentialsVersion, leaseId, leaseSeconds: LEASE_SECONDS }
          // while the lease is held the account comes last in routing (the auth server may take seconds)
          const claimed = yield* changes.after(repo.claimRefresh(claim))
          if (Option.isSome(claimed)) {
            return yield* redeemClaimed(claimed.value, reason).pipe(
              Effect.ensuring(changes.after(repo.releaseRefresh(accountId, leaseId)))
            )
          }
          yield* Effect.sleep(WAIT_POLL_MS)
        }
        return yield* unavailable(accountId, "refresh_failed")
      }).pipe(Effect.annotateLogs({ accountId, refreshReason: reason }))

    const refreshOnce = (accountId: string, staleVersion: number, reason: RefreshReason) =>
      flight(accountId, redeem(accountId, staleVersion, reason))

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
  dependencies: [
    CredentialsRepo.Default,
    RefreshClient.Default,
    Vault.Default,
    AuditLog.Default,
    Metrics.Default,
    RoutingChanges.Default
  ]
}) {}
