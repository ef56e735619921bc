import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { migrate, SqlLive } from "../src/Sql.ts"
import { backendEnv, backends, configFrom } from "./support/Databases.ts"

const tables = [
  "account_health",
  "account_quota",
  "accounts",
  "audit_log",
  "dashboard_sessions",
  "operator_tokens",
  "pool_accounts",
  "pool_keys",
  "pools",
  "realtime_calls",
  "request_attempts",
  "reset_redemptions",
  "requests",
  "sessions",
  "sign_ins"
]

const listTables = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`
).pipe(
  Effect.map((rows) => rows.map((row) => row["tableName"]))
)

describe.each(backends)("migrations on %s", (backend) => {
  it.live(
    "create the whole schema once; a second run, even in a new connection, applies nothing",
    () =>
      Effect.gen(function*() {
        const env = yield* backendEnv(backend)
        const session = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
          effect.pipe(Effect.provide(SqlLive.pipe(Layer.provide(configFrom(env)))), Effect.scoped)

        const first = yield* session(migrate)
        expect(first.map(([id, name]) => [id, name])).toEqual([
          [1, "initial_schema"],
          [2, "usage_poll"],
          [3, "instances"],
          [4, "dashboard_sessions"],
          [5, "routing_notices"],
          [6, "reset_credits"],
          [7, "reset_redemptions"],
          [8, "realtime_calls"],
          [9, "sign_ins"],
          [10, "pool_v1"],
          [11, "requests_started_index"]
        ])
        expect(yield* session(listTables)).toEqual(expect.arrayContaining(tables))

        const second = yield* session(Effect.zip(migrate, migrate))
        expect(second).toEqual([[], []])
        const applied = yield* session(
          Effect.flatMap(
            SqlClient.SqlClient,
            (sql) => sql`SELECT migration_id FROM codex_pooler_migrations ORDER BY migration_id`
          )
        )
        expect(applied).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((migrationId) => ({ migrationId })))
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )
})
