import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { Account, AccountStatus } from "../Domain/Models.ts"

const SealedCredentials = Schema.Struct({
  id: Schema.String,
  chatgptAccountId: Schema.String,
  chatgptUserId: Schema.String,
  email: Schema.NullOr(Schema.String),
  plan: Schema.NullOr(Schema.String),
  fedramp: Schema.Boolean,
  accessTokenEnc: Schema.String,
  refreshTokenEnc: Schema.String,
  idTokenEnc: Schema.String,
  accessExpiresAt: Schema.NullOr(Schema.DateFromSelf),
  lastRefreshAt: Schema.NullOr(Schema.DateFromSelf)
})
export type SealedCredentials = typeof SealedCredentials.Type

const Identity = Schema.Struct({ chatgptAccountId: Schema.String, chatgptUserId: Schema.String })

const accountColumns = (sql: SqlClient.SqlClient) =>
  sql`a.id, a.chatgpt_account_id, a.chatgpt_user_id, a.email, a.plan, a.status, a.access_expires_at,
    a.last_refresh_at, a.created_at,
    (SELECT h.reset_credits FROM account_health h WHERE h.account_id = a.id) AS reset_credits,
    coalesce(array(SELECT p.slug FROM pool_accounts pa JOIN pools p ON p.id = pa.pool_id
      WHERE pa.account_id = a.id ORDER BY p.slug), '{}') AS pools`

export class AccountsRepo extends Effect.Service<AccountsRepo>()("Gateway/AccountsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const findIdByIdentity = SqlSchema.findOne({
      Request: Identity,
      Result: Schema.Struct({ id: Schema.String }),
      execute: (identity) =>
        sql`SELECT id FROM accounts
          WHERE chatgpt_account_id = ${identity.chatgptAccountId} AND chatgpt_user_id = ${identity.chatgptUserId}
          FOR UPDATE`
    })

    const upsert = SqlSchema.void({
      Request: SealedCredentials,
      execute: (row) =>
        sql`INSERT INTO accounts ${sql.insert(row)}
          ON CONFLICT (id) DO UPDATE SET
            email = excluded.email, plan = excluded.plan, fedramp = excluded.fedramp,
            access_token_enc = excluded.access_token_enc, refresh_token_enc = excluded.refresh_token_enc,
            id_token_enc = excluded.id_token_enc, access_expires_at = excluded.access_expires_at,
            last_refresh_at = excluded.last_refresh_at,
            status = CASE WHEN accounts.status = 'reauth_required' THEN 'active' ELSE accounts.status END,
            credentials_version = accounts.credentials_version + 1, updated_at = now()`
    })

    const addToPool = SqlSchema.void({
      Request: Schema.Struct({ poolId: Schema.String, accountId: Schema.String }),
      execute: (row) => sql`INSERT INTO pool_accounts ${sql.insert(row)} ON CONFLICT DO NOTHING`
    })

    const list = SqlSchema.findAll({
      Request: Schema.Void,
      Result: Account,
      execute: () => sql`SELECT ${accountColumns(sql)} FROM accounts a ORDER BY a.created_at, a.id`
    })

    const findById = SqlSchema.findOne({
      Request: Schema.String,
      Result: Account,
      execute: (id) => sql`SELECT ${accountColumns(sql)} FROM accounts a WHERE a.id = ${id}`
    })

    const setStatus = SqlSchema.findOne({
      Request: Schema.Struct({ id: Schema.String, status: AccountStatus }),
      Result: Schema.Struct({ id: Schema.String }),
      execute: ({ id, status }) =>
        sql`UPDATE accounts SET status = ${status}, updated_at = now() WHERE id = ${id} RETURNING id`
    })

    const remove = SqlSchema.findOne({
      Request: Schema.String,
      Result: Schema.Struct({ id: Schema.String }),
      execute: (id) => sql`DELETE FROM accounts WHERE id = ${id} RETURNING id`
    })

    return {
      findIdByIdentity: (identity: typeof Identity.Type) => findIdByIdentity(identity).pipe(Effect.orDie),
      upsert: (row: SealedCredentials) => upsert(row).pipe(Effect.orDie),
      addToPool: (poolId: string, accountId: string) => addToPool({ poolId, accountId }).pipe(Effect.orDie),
      list: list(undefined).pipe(Effect.orDie),
      findById: (id: string) => findById(id).pipe(Effect.orDie),
      setStatus: (id: string, status: typeof AccountStatus.Type) => setStatus({ id, status }).pipe(Effect.orDie),
      remove: (id: string) => remove(id).pipe(Effect.orDie)
    } as const
  })
}) {}
