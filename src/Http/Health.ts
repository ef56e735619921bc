import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { loader } from "../Sql/Migrations.ts"

// The migrations this build ships are read once, when the routes are built, not on every probe.
const routes = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const expected = Math.max(0, ...(yield* Effect.orDie(loader)).map(([id]) => id))
  const applied = SqlSchema.single({
    Request: Schema.Void,
    Result: Schema.Struct({ latest: Schema.NullOr(Schema.Number) }),
    execute: () => sql`SELECT max(migration_id) AS latest FROM codex_pooler_migrations`
  })

  // Ready means: the database answers and every migration this build ships has been applied.
  const readiness = applied(undefined).pipe(
    Effect.timeout("2 seconds"),
    Effect.map(({ latest }) =>
      (latest ?? 0) >= expected
        ? { status: 200, body: { status: "ready", migration: latest } }
        : { status: 503, body: { status: "not_ready", reason: "migrations pending", migration: latest ?? 0, expected } }
    ),
    Effect.catchAll(() =>
      Effect.succeed({ status: 503, body: { status: "not_ready", reason: "database unreachable" } })
    )
  )

  return [
    HttpLayerRouter.route("GET", "/healthz", HttpServerResponse.unsafeJson({ status: "ok" })),
    HttpLayerRouter.route(
      "GET",
      "/readyz",
      Effect.map(readiness, ({ body, status }) => HttpServerResponse.unsafeJson(body, { status }))
    )
  ]
})

export const HealthRoutes = HttpLayerRouter.addAll(routes)
