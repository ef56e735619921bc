import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

const Row = Schema.Struct({
  accountId: Schema.String,
  limitName: Schema.String,
  windowKind: Schema.Literal("primary", "secondary"),
  usedPercent: Schema.Number,
  windowMinutes: Schema.NullOr(Schema.Number),
  resetsAt: Schema.NullOr(Schema.DateFromSelf),
  observedAt: Schema.DateFromSelf,
  source: Schema.Literal("headers", "event", "error", "poll")
})
export type QuotaRow = typeof Row.Type

export class QuotaRepo extends Effect.Service<QuotaRepo>()("Gateway/QuotaRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // Older evidence never overwrites newer: responses finish out of order.
    const upsert = SqlSchema.void({
      Request: Schema.Array(Row),
      execute: (rows) =>
        sql`INSERT INTO account_quota ${sql.insert(rows)}
          ON CONFLICT (account_id, limit_name, window_kind) DO UPDATE SET
            used_percent = excluded.used_percent, window_minutes = excluded.window_minutes,
            resets_at = excluded.resets_at, observed_at = excluded.observed_at, source = excluded.source
          WHERE account_quota.observed_at <= excluded.observed_at`
    })

    const forAccount = SqlSchema.findAll({
      Request: Schema.String,
      Result: Row,
      execute: (accountId) =>
        sql`SELECT * FROM account_quota WHERE account_id = ${accountId} ORDER BY limit_name, window_kind`
    })

    return {
      upsert: (rows: ReadonlyArray<QuotaRow>) => rows.length === 0 ? Effect.void : upsert(rows).pipe(Effect.orDie),
      forAccount: (accountId: string) => forAccount(accountId).pipe(Effect.orDie)
    } as const
  })
}) {}
