import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

const Member = Schema.Struct({
  poolId: Schema.String,
  strategy: Schema.String,
  id: Schema.NullOr(Schema.String),
  status: Schema.NullOr(Schema.String),
  lastUsedAt: Schema.NullOr(Schema.DateFromSelf),
  refreshLeaseUntil: Schema.NullOr(Schema.DateFromSelf),
  cooldownUntil: Schema.NullOr(Schema.DateFromSelf),
  cooldownReason: Schema.NullOr(Schema.String),
  circuitState: Schema.NullOr(Schema.String),
  circuitOpenedAt: Schema.NullOr(Schema.DateFromSelf),
  healthUpdatedAt: Schema.NullOr(Schema.DateFromSelf)
})
export type Member = typeof Member.Type

const QuotaWindow = Schema.Struct({
  accountId: Schema.String,
  usedPercent: Schema.Number,
  resetsAt: Schema.NullOr(Schema.DateFromSelf)
})
export type QuotaWindow = typeof QuotaWindow.Type

// What the routing view reads, and the few writes that picking an account makes.
export class RoutingRepo extends Effect.Service<RoutingRepo>()("Gateway/RoutingRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // Every Pool with its members (a Pool without any gives one row of nulls), their status and health.
    const members = SqlSchema.findAll({
      Request: Schema.Void,
      Result: Member,
      execute: () =>
        sql`SELECT p.id AS pool_id, p.strategy, a.id, a.status, a.last_used_at, a.refresh_lease_until,
            h.cooldown_until, h.cooldown_reason, h.circuit_state, h.circuit_opened_at, h.updated_at AS health_updated_at
          FROM pools p
            LEFT JOIN pool_accounts pa ON pa.pool_id = p.id
            LEFT JOIN accounts a ON a.id = pa.account_id
            LEFT JOIN account_health h ON h.account_id = a.id
          ORDER BY p.id, a.id`
    })

    const quota = SqlSchema.findAll({
      Request: Schema.Void,
      Result: QuotaWindow,
      execute: () => sql`SELECT account_id, used_percent, resets_at FROM account_quota`
    })

    // An open circuit whose time is up lets exactly one request through, of every instance's: the one whose update
    // finds the circuit still open.
    const probe = SqlSchema.findAll({
      Request: Schema.Struct({ accountId: Schema.String, circuitOpenSeconds: Schema.Number }),
      Result: Schema.Struct({ accountId: Schema.String }),
      execute: ({ accountId, circuitOpenSeconds }) =>
        sql`UPDATE account_health SET circuit_state = 'half_open', updated_at = now()
          WHERE account_id = ${accountId} AND circuit_state = 'open'
            AND circuit_opened_at <= now() - make_interval(secs => ${circuitOpenSeconds})
          RETURNING account_id`
    })

    // When accounts were last picked here, written behind; a time never moves back.
    const used = SqlSchema.void({
      Request: Schema.Array(Schema.Struct({ id: Schema.String, at: Schema.DateFromSelf })),
      execute: (rows) =>
        sql`UPDATE accounts a SET last_used_at = greatest(coalesce(a.last_used_at, u.at), u.at)
          FROM jsonb_to_recordset(${
          JSON.stringify(rows.map((row) => ({ id: row.id, at: row.at.toISOString() })))
        }::jsonb) AS u(id text, at timestamptz)
          WHERE a.id = u.id`
    })

    return {
      load: Effect.all([members(), quota()], { concurrency: 2 }).pipe(
        Effect.map(([members, quota]) => ({ members, quota }))
      ),
      probe: (accountId: string, circuitOpenSeconds: number) =>
        probe({ accountId, circuitOpenSeconds }).pipe(Effect.map((rows) => rows.length > 0), Effect.orDie),
      used: (rows: ReadonlyArray<{ readonly id: string; readonly at: Date }>) => used(rows).pipe(Effect.orDie)
    } as const
  })
}) {}
