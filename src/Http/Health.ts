import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { loader } from "../Sql/Migrations.ts"

const latestMigration = Effect.map(loader, (migrations) => Math.max(0, ...migrations.map(([id]) => id)))

// Ready means: the database answers and every migration this build ships has been applied.
const readiness = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const expected = yield* latestMigration
  const row = yield* SqlSchema.single({
    Request: Schema.Void,
    Result: Schema.Struct({ latest: Schema.NullOr(Schema.Number) }),
    execute: () => sql`SELECT max(migration_id) AS latest FROM codex_pooler_migrations`
  })(undefined).pipe(Effect.timeout("2 seconds"))
  const applied = row.latest ?? 0
  return applied >= expected
    ? { status: 200, body: { status: "ready", migration: applied } }
    : { status: 503, body: { status: "not_ready", reason: "migrations pending", migration: applied, expected } }
}).pipe(
  Effect.catchAll(() => Effect.succeed({ status: 503, body: { status: "not_ready", reason: "database unreachable" } }))
)

export const HealthRoutes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/healthz", HttpServerResponse.unsafeJson({ status: "ok" })),
  HttpLayerRouter.route(
    "GET",
    "/readyz",
    Effect.map(readiness, ({ body, status }) => HttpServerResponse.unsafeJson(body, { status }))
  )
])
