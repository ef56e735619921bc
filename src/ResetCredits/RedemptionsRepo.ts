import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { isUniqueViolation } from "../Sql/Errors.ts"

export const RedemptionRow = Schema.Struct({
  scope: Schema.String,
  requestId: Schema.String,
  upstreamRequestId: Schema.String,
  accountId: Schema.String,
  status: Schema.Literal("pending", "done", "failed"),
  code: Schema.NullOr(Schema.String),
  windowsReset: Schema.NullOr(Schema.Number),
  errorCode: Schema.NullOr(Schema.String)
})
export type RedemptionRow = typeof RedemptionRow.Type

const Key = Schema.Struct({ scope: Schema.String, requestId: Schema.String })

const Claim = Schema.Struct({
  scope: Schema.String,
  requestId: Schema.String,
  upstreamRequestId: Schema.String,
  accountId: Schema.String,
  actorKind: Schema.String,
  actorId: Schema.NullOr(Schema.String)
})

// An account resting at its usage limit, with what is known of its saved resets (null: not yet learned).
export const RestingAccount = Schema.Struct({
  accountId: Schema.String,
  resetCredits: Schema.NullOr(Schema.Number),
  cooldownUntil: Schema.DateFromSelf
})

// A redemption left pending this long was abandoned (its instance stopped mid-call): its account may be claimed again.
// Longer than a redemption's own upstream timeout.
const abandonedAfterSeconds = 120

export class RedemptionsRepo extends Effect.Service<RedemptionsRepo>()("Gateway/RedemptionsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const find = SqlSchema.findOne({
      Request: Key,
      Result: RedemptionRow,
      execute: ({ requestId, scope }) =>
        sql`SELECT scope, request_id, upstream_request_id, account_id, status, code, windows_reset, error_code
          FROM reset_redemptions WHERE scope = ${scope} AND request_id = ${requestId}`
    })

    // The claim: a new row, pending. Nothing is inserted when the request id was used already, or when the account
    // has a redemption in flight (the partial unique index, which PostgreSQL checks across transactions).
    const insert = SqlSchema.findAll({
      Request: Claim,
      Result: Schema.Struct({ requestId: Schema.String }),
      execute: (claim) =>
        sql`INSERT INTO reset_redemptions (scope, request_id, upstream_request_id, account_id, status, actor_kind, actor_id)
          VALUES (${claim.scope}, ${claim.requestId}, ${claim.upstreamRequestId}, ${claim.accountId}, 'pending',
            ${claim.actorKind}, ${claim.actorId})
          ON CONFLICT DO NOTHING RETURNING request_id`
    })

    // A failed redemption is tried again under its request id, and its upstream id: upstream then answers
    // already_redeemed if the lost attempt had in fact gone through.
    const retry = SqlSchema.findAll({
      Request: Key,
      Result: Schema.Struct({ requestId: Schema.String }),
      execute: ({ requestId, scope }) =>
        sql`UPDATE reset_redemptions SET status = 'pending', error_code = NULL, started_at = now(), finished_at = NULL
          WHERE scope = ${scope} AND request_id = ${requestId} AND status = 'failed'
            AND NOT EXISTS (SELECT 1 FROM reset_redemptions other
              WHERE other.account_id = reset_redemptions.account_id AND other.status = 'pending')
          RETURNING request_id`
    })

    const abandon = SqlSchema.void({
      Request: Schema.String,
      execute: (accountId) =>
        sql`UPDATE reset_redemptions SET status = 'failed', error_code = 'abandoned', finished_at = now()
          WHERE account_id = ${accountId} AND status = 'pending'
            AND started_at < now() - make_interval(secs => ${abandonedAfterSeconds})`
    })

    const finish = SqlSchema.void({
      Request: Schema.Struct({
        scope: Schema.String,
        requestId: Schema.String,
        status: Schema.Literal("done", "failed"),
        code: Schema.NullOr(Schema.String),
        windowsReset: Schema.NullOr(Schema.Number),
        errorCode: Schema.NullOr(Schema.String)
      }),
      execute: (row) =>
        sql`UPDATE reset_redemptions SET status = ${row.status}, code = ${row.code}, windows_reset = ${row.windowsReset},
            error_code = ${row.errorCode}, finished_at = now()
          WHERE scope = ${row.scope} AND request_id = ${row.requestId} AND status = 'pending'`
    })

    const resting = SqlSchema.findOne({
      Request: Schema.String,
      Result: RestingAccount,
      execute: (accountId) =>
        sql`SELECT account_id, reset_credits, cooldown_until FROM account_health
          WHERE account_id = ${accountId} AND cooldown_reason = 'usage_limit' AND cooldown_until > now()`
    })

    // The Pool's active accounts resting at their usage limit, the one whose rest lasts longest first: a reset spent
    // there buys the most.
    const restingInPool = SqlSchema.findAll({
      Request: Schema.String,
      Result: RestingAccount,
      execute: (poolId) =>
        sql`SELECT h.account_id, h.reset_credits, h.cooldown_until
          FROM pool_accounts pa JOIN accounts a ON a.id = pa.account_id JOIN account_health h ON h.account_id = a.id
          WHERE pa.pool_id = ${poolId} AND a.status = 'active'
            AND h.cooldown_reason = 'usage_limit' AND h.cooldown_until > now()
          ORDER BY h.cooldown_until DESC, h.account_id`
    })

    // The Pool's active accounts known to have saved resets, most first.
    const withCreditsInPool = SqlSchema.findAll({
      Request: Schema.Struct({ poolId: Schema.String, limit: Schema.Number }),
      Result: Schema.Struct({ accountId: Schema.String }),
      execute: ({ limit, poolId }) =>
        sql`SELECT h.account_id FROM pool_accounts pa JOIN accounts a ON a.id = pa.account_id
            JOIN account_health h ON h.account_id = a.id
          WHERE pa.pool_id = ${poolId} AND a.status = 'active' AND h.reset_credits > 0
          ORDER BY h.reset_credits DESC, h.account_id LIMIT ${limit}`
    })

    // The Pools that redeem by themselves whose active accounts all rest at their usage limit, with one known to have
    // a saved reset.
    const exhaustedAutoPools = SqlSchema.findAll({
      Request: Schema.Void,
      Result: Schema.Struct({ poolId: Schema.String }),
      execute: () =>
        sql`SELECT p.id AS pool_id FROM pools p
          WHERE p.auto_redeem_resets AND p.status = 'active'
            AND EXISTS (SELECT 1 FROM pool_accounts pa JOIN accounts a ON a.id = pa.account_id
              JOIN account_health h ON h.account_id = a.id
              WHERE pa.pool_id = p.id AND a.status = 'active' AND h.cooldown_reason = 'usage_limit'
                AND h.cooldown_until > now() AND h.reset_credits > 0)
            AND NOT EXISTS (SELECT 1 FROM pool_accounts pa JOIN accounts a ON a.id = pa.account_id
              LEFT JOIN account_health h ON h.account_id = a.id
              WHERE pa.pool_id = p.id AND a.status = 'active'
                AND NOT coalesce(h.cooldown_reason = 'usage_limit' AND h.cooldown_until > now(), false))`
    })

    // Kept for a while as the record of what was spent; the audit log keeps it longer.
    const prune =
      sql`DELETE FROM reset_redemptions WHERE status <> 'pending' AND started_at < now() - interval '90 days'`

    return {
      find: (scope: string, requestId: string) => find({ scope, requestId }).pipe(Effect.orDie),
      claim: (claim: typeof Claim.Type) =>
        Effect.zipRight(abandon(claim.accountId), insert(claim)).pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        ),
      // Two retries at once may both pass the NOT EXISTS: the index refuses the second, which did not claim.
      retry: (scope: string, requestId: string) =>
        retry({ scope, requestId }).pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.catchIf(isUniqueViolation, () => Effect.succeed(false)),
          Effect.orDie
        ),
      finish: (row: Parameters<typeof finish>[0]) => finish(row).pipe(Effect.orDie),
      resting: (accountId: string) => resting(accountId).pipe(Effect.map(Option.getOrNull), Effect.orDie),
      restingInPool: (poolId: string) => restingInPool(poolId).pipe(Effect.orDie),
      withCreditsInPool: (poolId: string, limit: number) =>
        withCreditsInPool({ poolId, limit }).pipe(Effect.map((rows) => rows.map((row) => row.accountId)), Effect.orDie),
      exhaustedAutoPools: exhaustedAutoPools(undefined).pipe(
        Effect.map((rows) => rows.map((row) => row.poolId)),
        Effect.orDie
      ),
      prune: prune.pipe(Effect.asVoid, Effect.orDie)
    } as const
  })
}) {}
