import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

const Picked = Schema.Struct({ id: Schema.String, owner: Schema.NullOr(Schema.String) })

const Pick = Schema.Struct({
  poolId: Schema.String,
  turnStateKey: Schema.NullOr(Schema.String),
  threadKey: Schema.NullOr(Schema.String),
  pinned: Schema.Boolean,
  exclude: Schema.Array(Schema.String),
  circuitOpenSeconds: Schema.Number
})
export type Pick = typeof Pick.Type

export class SelectionRepo extends Effect.Service<SelectionRepo>()("Gateway/SelectionRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    // One statement: find the session's owner (a turn's hard tie before its thread's soft one), prefer it while it
    // is eligible (or insist on it when pinned); otherwise order by the Pool's strategy — quota_first: most headroom
    // in the fresh quota windows; rendezvous: a stable hash of the thread and the account, which spreads threads and
    // keeps each one put; least_recently_used and round_robin: the account used longest ago, which takes them in
    // turn — then mark the pick used.
    const pick = SqlSchema.findOne({
      Request: Pick,
      Result: Picked,
      execute: (request) =>
        sql`WITH owner AS (
            SELECT account_id FROM sessions
            WHERE pool_id = ${request.poolId} AND expires_at > now()
              AND ((kind = 'hard' AND key_hash = ${request.turnStateKey}) OR (kind = 'soft' AND key_hash = ${request.threadKey}))
            ORDER BY kind LIMIT 1
          ), picked AS (
            SELECT a.id FROM pool_accounts pa
              JOIN accounts a ON a.id = pa.account_id
              JOIN pools p ON p.id = pa.pool_id
            WHERE pa.pool_id = ${request.poolId} AND a.status = 'active' AND a.id <> ALL(${request.exclude}::text[])
              AND NOT EXISTS (
                SELECT 1 FROM account_health h WHERE h.account_id = a.id AND (
                  h.cooldown_until > now()
                  OR (h.circuit_state = 'open' AND h.circuit_opened_at > now() - make_interval(secs => ${request.circuitOpenSeconds}))
                  OR (h.circuit_state = 'half_open' AND h.updated_at > now() - make_interval(secs => ${request.circuitOpenSeconds}))))
              AND (NOT ${request.pinned} OR NOT EXISTS (SELECT 1 FROM owner) OR a.id = (SELECT account_id FROM owner))
            ORDER BY coalesce(a.id = (SELECT account_id FROM owner), false) DESC,
              -- an account whose token is being refreshed right now comes last: the auth server may take seconds
              coalesce(a.refresh_lease_until > now(), false) ASC,
              CASE WHEN p.strategy = 'quota_first' THEN (
                SELECT max(q.used_percent) FROM account_quota q
                WHERE q.account_id = a.id AND (q.resets_at IS NULL OR q.resets_at > now())
              ) END ASC NULLS FIRST,
              CASE WHEN p.strategy = 'rendezvous' THEN md5(coalesce(${request.threadKey}, '') || a.id) END ASC,
              a.last_used_at ASC NULLS FIRST, a.id
            LIMIT 1
          ), probe AS (
            -- an open circuit whose time is up lets exactly one request through
            UPDATE account_health SET circuit_state = 'half_open', updated_at = now()
            FROM picked WHERE account_health.account_id = picked.id AND account_health.circuit_state = 'open'
          )
          UPDATE accounts SET last_used_at = clock_timestamp() FROM picked WHERE accounts.id = picked.id
          RETURNING accounts.id, (SELECT account_id FROM owner) AS owner`
    })

    const activeCount = SqlSchema.single({
      Request: Schema.String,
      Result: Schema.Struct({ active: Schema.NumberFromString }),
      execute: (poolId) =>
        sql`SELECT count(*) AS active FROM pool_accounts pa JOIN accounts a ON a.id = pa.account_id
          WHERE pa.pool_id = ${poolId} AND a.status = 'active'`
    })

    return {
      pick: (request: Pick) => pick(request).pipe(Effect.orDie),
      activeCount: (poolId: string) => activeCount(poolId).pipe(Effect.map((row) => row.active), Effect.orDie)
    } as const
  })
}) {}
