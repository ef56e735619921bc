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
  accessTokenEnc: Schema.String,
  refreshTokenEnc: Schema.String,
  idTokenEnc: Schema.NullOr(Schema.String),
  accessExpiresAt: Schema.NullOr(Schema.DateFromSelf)
})
export type Refreshed = typeof Refreshed.Type

const Version = Schema.Struct({ id: Schema.String, credentialsVersion: Schema.Number })

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

    // Other instances wait here while one of them redeems the refresh token, then see the new version.
    const lock = SqlSchema.findOne({
      Request: Schema.String,
      Result: SealedRow,
      execute: (id) => sql`SELECT ${columns} FROM accounts WHERE id = ${id} FOR UPDATE`
    })

    const saveRefreshed = SqlSchema.findOne({
      Request: Refreshed,
      Result: SealedRow,
      execute: (row) =>
        sql`UPDATE accounts SET access_token_enc = ${row.accessTokenEnc}, refresh_token_enc = ${row.refreshTokenEnc},
          id_token_enc = coalesce(${row.idTokenEnc}::text, id_token_enc), access_expires_at = ${row.accessExpiresAt},
          last_refresh_at = now(), credentials_version = credentials_version + 1, updated_at = now()
          WHERE id = ${row.id} RETURNING ${columns}`
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
      lock: (id: string) => lock(id).pipe(Effect.orDie),
      saveRefreshed: (row: Refreshed) => saveRefreshed(row).pipe(Effect.orDie),
      markReauthRequired: (id: string, credentialsVersion: number) =>
        markReauthRequired({ id, credentialsVersion }).pipe(Effect.orDie)
    } as const
  })
}) {}
