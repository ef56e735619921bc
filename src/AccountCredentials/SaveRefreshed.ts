import { Effect, Option, Redacted } from "effect"
import { decodeJwtClaims } from "../Accounts/AuthJson.ts"
import { tokenAad } from "../Accounts/Sealing.ts"
import { Vault } from "../Vault.ts"
import { credentialOf } from "./Credential.ts"
import { CredentialsRepo, type SealedRow } from "./CredentialsRepo.ts"
import { AccountUnavailable } from "./Errors.ts"
import type { RefreshedTokens } from "./RefreshClient.ts"

// A save moved onto a re-import that carried the redeemed refresh token: a second such race is already unlikely.
const SAVE_ATTEMPTS = 3

const expiryOf = (accessToken: string) =>
  decodeJwtClaims(accessToken).pipe(
    Option.flatMapNullable((claims) => claims.exp),
    Option.match({ onNone: () => null, onSome: (seconds) => new Date(seconds * 1000) })
  )

// Stores what the auth server answered, at the version whose refresh token was redeemed (compare-and-set).
export const makeSaveRefreshed = Effect.gen(function*() {
  const repo = yield* CredentialsRepo
  const vault = yield* Vault

  const open = (row: SealedRow) =>
    vault.decrypt(row.accessTokenEnc, tokenAad(row.id, "access")).pipe(
      Effect.map((token) => credentialOf(row, Redacted.make(token))),
      Effect.orDie
    )

  const refreshed = (base: SealedRow, tokens: RefreshedTokens) => {
    const seal = (field: "access" | "refresh" | "id", token: Option.Option<string>) =>
      Option.map(token, (plaintext) => vault.encrypt(plaintext, tokenAad(base.id, field)))
    return {
      id: base.id,
      credentialsVersion: base.credentialsVersion,
      accessTokenEnc: Option.getOrElse(seal("access", tokens.accessToken), () => base.accessTokenEnc),
      refreshTokenEnc: Option.getOrElse(seal("refresh", tokens.refreshToken), () => base.refreshTokenEnc),
      idTokenEnc: Option.getOrNull(seal("id", tokens.idToken)),
      accessExpiresAt: Option.match(tokens.accessToken, { onNone: () => base.accessExpiresAt, onSome: expiryOf })
    }
  }

  return (row: SealedRow, redeemed: string, tokens: RefreshedTokens) =>
    Effect.gen(function*() {
      let base = row
      for (let attempt = 0; attempt < SAVE_ATTEMPTS; attempt++) {
        const saved = yield* repo.saveRefreshed(refreshed(base, tokens))
        if (Option.isSome(saved)) {
          return yield* Option.match(tokens.accessToken, {
            onNone: () => open(saved.value),
            onSome: (token) => Effect.succeed(credentialOf(saved.value, Redacted.make(token)))
          })
        }
        const current = yield* repo.find(row.id)
        if (Option.isNone(current)) return yield* new AccountUnavailable({ accountId: row.id, reason: "not_active" })
        // A re-import landed meanwhile: its credentials win, unless it carried the very refresh token just redeemed,
        // which the auth server has rotated away; then only the rotated one still works.
        const stored = yield* Effect.orDie(vault.decrypt(current.value.refreshTokenEnc, tokenAad(row.id, "refresh")))
        if (stored !== redeemed) {
          if (current.value.status !== "active") {
            return yield* new AccountUnavailable({ accountId: row.id, reason: "not_active" })
          }
          return yield* open(current.value)
        }
        base = current.value
      }
      return yield* new AccountUnavailable({ accountId: row.id, reason: "refresh_failed" })
    })
})
