import type { Redacted } from "effect"
import type { SealedRow } from "./CredentialsRepo.ts"

export interface UpstreamCredential {
  readonly accountId: string
  readonly chatgptAccountId: string
  readonly accessToken: Redacted.Redacted<string>
  readonly fedramp: boolean
  readonly expiresAt: Date | null
  readonly version: number
}

export const credentialOf = (row: SealedRow, accessToken: Redacted.Redacted<string>): UpstreamCredential => ({
  accountId: row.id,
  chatgptAccountId: row.chatgptAccountId,
  accessToken,
  fedramp: row.fedramp,
  expiresAt: row.accessExpiresAt,
  version: row.credentialsVersion
})
