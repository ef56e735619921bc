import { Command } from "@effect/cli"
import { Console, Effect, Layer } from "effect"
import { ServerLive } from "../Server.ts"
import { migrate, ServeSqlLive, SqlLive } from "../Sql.ts"
import { Vault } from "../Vault.ts"

export const serveCommand = Command.make("serve", {}, () =>
  // Spans stay off until a tracer is configured: on the hot path they cost more than the work they describe.
  Layer.launch(
    ServerLive.pipe(
      Layer.provide(Vault.Default),
      Layer.provide(ServeSqlLive),
      Layer.provide(Layer.setTracerEnabled(false))
    )
  )).pipe(
    Command.withDescription("run the gateway (migrates the database first)")
  )

export const migrateCommand = Command.make("migrate", {}, () =>
  Effect.gen(function*() {
    const applied = yield* migrate
    yield* Console.log(
      applied.length === 0
        ? "database is up to date"
        : `applied ${applied.map(([id, name]) => `${String(id).padStart(4, "0")}_${name}`).join(", ")}`
    )
  }).pipe(Effect.provide(SqlLive))).pipe(Command.withDescription("apply pending database migrations"))
