import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { AccountStatus } from "../Domain/Models.ts"

export const SealedRow = Schema.Struct({
  id: Schema.String,
  chatgptAccountId: Schema.String,
  fedramp: Schema.Boolean,
  status: AccountStatus,
  accessTokenEnc: Schema.String,
  refreshTokenEnc: Schema.String,
  accessExpiresAt: Schema.NullOr(Schema.DateFromSelf),
  credentialsVersion: Schema.Number
})
export type SealedRow = typeof SealedRow.Type

const Refreshed = Schema.Struct({
  id: Schema.String,
  // The version the redeemed refresh token belonged to: a re-import since then brought newer credentials.
  credentialsVersion: Schema.Number,
  accessTokenEnc: Schema.String,
  refreshTokenEnc: Schema.String,
  idTokenEnc: Schema.NullOr(Schema.String),
  accessExpiresAt: Schema.NullOr(Schema.DateFromSelf)
})
export type Refreshed = typeof Refreshed.Type

const Version = Schema.Struct({ id: Schema.String, credentialsVersion: Schema.Number })

const Claim = Schema.Struct({
  id: Schema.String,
  credentialsVersion: Schema.Number,
  leaseId: Schema.String,
  leaseSeconds: Schema.Number
})

const Lease = Schema.Struct({ id: Schema.String, leaseId: Schema.String })

export class CredentialsRepo extends Effect.Service<CredentialsRepo>()("Gateway/AccountCredentials/CredentialsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const columns = sql`id, chatgpt_account_id, fedramp, status, access_token_enc, refresh_token_enc,
      access_expires_at, credentials_version`

    const find = SqlSchema.findOne({
      Request: Schema.String,
      Result: SealedRow,
      execute: (id) => sql`SELECT ${columns} FROM accounts WHERE id = ${id}`
    })

    // A lease rather than a row lock: the auth server call may take seconds, and a locked accounts row would stall
    // selection, request rows and health writes that touch it. Only an active row still at the version is claimed.
    const claimRefresh = SqlSchema.findOne({
      Request: Claim,
      Result: SealedRow,
      execute: (claim) =>
        sql`UPDATE accounts SET refresh_lease_id = ${claim.leaseId},
            refresh_lease_until = now() + make_interval(secs => ${claim.leaseSeconds})
          WHERE id = ${claim.id} AND status = 'active' AND credentials_version = ${claim.credentialsVersion}
            AND (refresh_lease_until IS NULL OR refresh_lease_until <= now())
          RETURNING ${columns}`
    })

    const releaseRefresh = SqlSchema.void({
      Request: Lease,
      execute: (lease) =>
        sql`UPDATE accounts SET refresh_lease_id = NULL, refresh_lease_until = NULL
          WHERE id = ${lease.id} AND refresh_lease_id = ${lease.leaseId}`
    })

    // Compare-and-set on the version the redeemed token belonged to: nothing when a re-import has landed since.
    const saveRefreshed = SqlSchema.findOne({
      Request: Refreshed,
      Result: SealedRow,
      execute: (row) =>
        sql`UPDATE accounts SET access_token_enc = ${row.accessTokenEnc}, refresh_token_enc = ${row.refreshTokenEnc},
          id_token_enc = coalesce(${row.idTokenEnc}::text, id_token_enc), access_expires_at = ${row.accessExpiresAt},
          last_refresh_at = now(), credentials_version = credentials_version + 1, updated_at = now()
          WHERE id = ${row.id} AND credentials_version = ${row.credentialsVersion} RETURNING ${columns}`
    })

    // Guarded by the version: a re-import that landed meanwhile brought new tokens, so the account stays usable.
    const markReauthRequired = SqlSchema.findOne({
      Request: Version,
      Result: Schema.Struct({ id: Schema.String }),
      execute: ({ id, credentialsVersion }) =>
        sql`UPDATE accounts SET status = 'reauth_required', updated_at = now()
          WHERE id = ${id} AND credentials_version = ${credentialsVersion} AND status = 'active' RETURNING id`
    })

    return {
      find: (id: string) => find(id).pipe(Effect.orDie),
      claimRefresh: (claim: typeof Claim.Type) => claimRefresh(claim).pipe(Effect.orDie),
      releaseRefresh: (id: string, leaseId: string) => releaseRefresh({ id, leaseId }).pipe(Effect.orDie),
      saveRefreshed: (row: Refreshed) => saveRefreshed(row).pipe(Effect.orDie),
      markReauthRequired: (id: string, credentialsVersion: number) =>
        markReauthRequired({ id, credentialsVersion }).pipe(Effect.orDie)
    } as const
  })
}) {}
