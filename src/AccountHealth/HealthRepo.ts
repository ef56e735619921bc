import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { RoutingChanges } from "../RoutingView/Changes.ts"

const Cooldown = Schema.Struct({
  accountId: Schema.String,
  until: Schema.DateFromSelf,
  reason: Schema.String,
  errorCode: Schema.String
})

export class HealthRepo extends Effect.Service<HealthRepo>()("Gateway/HealthRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { after } = yield* RoutingChanges

    // A later reset never shortens an earlier, longer one: the longest evidence wins.
    const cooldown = SqlSchema.void({
      Request: Cooldown,
      execute: (row) =>
        sql`INSERT INTO account_health (account_id, cooldown_until, cooldown_reason, last_error_code, last_failure_at, updated_at)
          VALUES (${row.accountId}, ${row.until}, ${row.reason}, ${row.errorCode}, now(), now())
          ON CONFLICT (account_id) DO UPDATE SET
            cooldown_until = GREATEST(coalesce(account_health.cooldown_until, excluded.cooldown_until), excluded.cooldown_until),
            cooldown_reason = excluded.cooldown_reason, last_error_code = excluded.last_error_code,
            last_failure_at = now(), updated_at = now()`
    })

    // Consecutive failures open the circuit; a failed probe (or any failure past the threshold) opens it again.
    const failure = SqlSchema.void({
      Request: Schema.Struct({ accountId: Schema.String, errorCode: Schema.String, threshold: Schema.Number }),
      execute: ({ accountId, errorCode, threshold }) =>
        sql`INSERT INTO account_health (account_id, consecutive_failures, last_error_code, last_failure_at, updated_at,
            circuit_state, circuit_opened_at)
          VALUES (${accountId}, 1, ${errorCode}, now(), now(),
            CASE WHEN ${threshold} <= 1 THEN 'open' ELSE 'closed' END, CASE WHEN ${threshold} <= 1 THEN now() END)
          ON CONFLICT (account_id) DO UPDATE SET
            consecutive_failures = account_health.consecutive_failures + 1,
            last_error_code = excluded.last_error_code, last_failure_at = now(), updated_at = now(),
            circuit_state = CASE WHEN account_health.consecutive_failures + 1 >= ${threshold} THEN 'open'
              ELSE account_health.circuit_state END,
            circuit_opened_at = CASE WHEN account_health.consecutive_failures + 1 >= ${threshold} THEN now()
              ELSE account_health.circuit_opened_at END`
    })

    const success = SqlSchema.void({
      Request: Schema.String,
      execute: (accountId) =>
        sql`UPDATE account_health SET consecutive_failures = 0, circuit_state = 'closed', circuit_opened_at = NULL,
            last_success_at = now(), updated_at = now()
          WHERE account_id = ${accountId} AND (consecutive_failures > 0 OR circuit_state <> 'closed')`
    })

    // An operator's word: the account rests no longer and its circuit closes. True when it had a health row.
    const clear = SqlSchema.findAll({
      Request: Schema.String,
      Result: Schema.Struct({ accountId: Schema.String }),
      execute: (accountId) =>
        sql`UPDATE account_health SET cooldown_until = NULL, cooldown_reason = NULL, circuit_state = 'closed',
            circuit_opened_at = NULL, consecutive_failures = 0, updated_at = now()
          WHERE account_id = ${accountId} RETURNING account_id`
    })

    // Claims the accounts whose usage is due for a poll, so that of several instances only one asks. Due: an account
    // resting at its usage limit every `coolingSeconds`; any other active one every `everySeconds`, unless responses
    // have reported its quota within that time. The claim is the conditional update of `usage_polled_at`, which
    // PostgreSQL re-checks under the row lock.
    const claimPolls = SqlSchema.findAll({
      Request: Schema.Struct({ everySeconds: Schema.Number, coolingSeconds: Schema.Number, limit: Schema.Number }),
      Result: Schema.Struct({ accountId: Schema.String }),
      execute: ({ coolingSeconds, everySeconds, limit }) =>
        sql`INSERT INTO account_health (account_id, usage_polled_at)
          SELECT a.id, now() FROM accounts a LEFT JOIN account_health h ON h.account_id = a.id
          WHERE a.status = 'active'
            AND (h.usage_polled_at IS NULL OR h.usage_polled_at <= now() - make_interval(secs =>
              CASE WHEN h.cooldown_until > now() AND h.cooldown_reason = 'usage_limit' THEN ${coolingSeconds}::float8 ELSE ${everySeconds}::float8 END))
            AND (coalesce(h.cooldown_until > now() AND h.cooldown_reason = 'usage_limit', false) OR NOT EXISTS (
              SELECT 1 FROM account_quota q WHERE q.account_id = a.id AND q.observed_at > now() - make_interval(secs => ${everySeconds})))
          ORDER BY h.usage_polled_at ASC NULLS FIRST, a.id
          LIMIT ${limit}
          ON CONFLICT (account_id) DO UPDATE SET usage_polled_at = excluded.usage_polled_at
          WHERE account_health.usage_polled_at IS NULL OR account_health.usage_polled_at <= now() - make_interval(secs =>
            CASE WHEN account_health.cooldown_until > now() AND account_health.cooldown_reason = 'usage_limit'
              THEN ${coolingSeconds}::float8 ELSE ${everySeconds}::float8 END)
          RETURNING account_id`
    })

    // Fresh evidence that the limit has reset ends a usage-limit rest early — unless the rest began after the
    // evidence was asked for (an answer in flight must not undo a newer limit). True when a rest was ended.
    const endUsageCooldown = SqlSchema.findAll({
      Request: Schema.Struct({ accountId: Schema.String, askedAt: Schema.DateFromSelf }),
      Result: Schema.Struct({ accountId: Schema.String }),
      execute: ({ accountId, askedAt }) =>
        sql`UPDATE account_health SET cooldown_until = NULL, cooldown_reason = NULL
          WHERE account_id = ${accountId} AND cooldown_reason = 'usage_limit' AND cooldown_until > now()
            AND (last_failure_at IS NULL OR last_failure_at < ${askedAt})
          RETURNING account_id`
    })

    const resetCredits = SqlSchema.void({
      Request: Schema.Struct({ accountId: Schema.String, available: Schema.Number, askedAt: Schema.DateFromSelf }),
      execute: ({ accountId, askedAt, available }) =>
        sql`INSERT INTO account_health (account_id, reset_credits, reset_credits_at)
          VALUES (${accountId}, ${available}, ${askedAt})
          ON CONFLICT (account_id) DO UPDATE SET reset_credits = excluded.reset_credits,
            reset_credits_at = excluded.reset_credits_at
          WHERE account_health.reset_credits_at IS NULL OR account_health.reset_credits_at <= excluded.reset_credits_at`
    })

    // Upstream confirmed a saved reset was spent on the account: its usage-limit rest ends now, and it has one saved
    // reset fewer (until its next usage answer says how many exactly).
    const resetRedeemed = SqlSchema.void({
      Request: Schema.String,
      execute: (accountId) =>
        sql`UPDATE account_health SET
            cooldown_until = CASE WHEN cooldown_reason = 'usage_limit' THEN NULL ELSE cooldown_until END,
            cooldown_reason = CASE WHEN cooldown_reason = 'usage_limit' THEN NULL ELSE cooldown_reason END,
            reset_credits = greatest(reset_credits - 1, 0), updated_at = now()
          WHERE account_id = ${accountId}`
    })

    return {
      // routes nothing: no change notice is owed
      resetCredits: (accountId: string, available: number, askedAt: Date) =>
        resetCredits({ accountId, available, askedAt }).pipe(Effect.orDie),
      claimPolls: (request: { everySeconds: number; coolingSeconds: number; limit: number }) =>
        claimPolls(request).pipe(Effect.map((rows) => rows.map((row) => row.accountId)), Effect.orDie),
      // what routes requests changes with each of these: this instance's routing view learns of it before they end
      endUsageCooldown: (accountId: string, askedAt: Date) =>
        endUsageCooldown({ accountId, askedAt }).pipe(Effect.map((rows) => rows.length > 0), Effect.orDie, after),
      failure: (accountId: string, errorCode: string, threshold: number) =>
        failure({ accountId, errorCode, threshold }).pipe(Effect.orDie, after),
      success: (accountId: string) => success(accountId).pipe(Effect.orDie, after),
      clear: (accountId: string) => clear(accountId).pipe(Effect.map((rows) => rows.length > 0), Effect.orDie, after),
      cooldown: (row: typeof Cooldown.Type) => cooldown(row).pipe(Effect.orDie, after),
      resetRedeemed: (accountId: string) => resetRedeemed(accountId).pipe(Effect.orDie, after)
    } as const
  }),
  dependencies: [RoutingChanges.Default]
}) {}
