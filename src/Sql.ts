import { NodeContext } from "@effect/platform-node"
import { PgClient, PgMigrator } from "@effect/sql-pg"
import { Effect, Layer, Option, String } from "effect"
import { DatabaseUrl, DataDir } from "./Config.ts"
import * as Embedded from "./Sql/Embedded.ts"
import { loader } from "./Sql/Migrations.ts"

const naming = {
  transformQueryNames: String.camelToSnake,
  transformResultNames: String.snakeToCamel
} as const

// With DATABASE_URL the gateway uses PostgreSQL; without it, an embedded PGlite in the data dir, same queries.
const makeSqlLive = (role: "serve" | "cli") =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const url = yield* DatabaseUrl
    if (Option.isSome(url)) return PgClient.layer({ url: url.value, ...naming })
    const endpoint = yield* Embedded.acquire(yield* DataDir, role)
    return PgClient.layer({
      host: endpoint.host,
      port: endpoint.port,
      username: "postgres",
      database: "postgres",
      maxConnections: 1,
      ...naming
    })
  }))

export const migrate = PgMigrator.run({ loader, table: "codex_pooler_migrations" }).pipe(
  Effect.provide(NodeContext.layer)
)

export const SqlLive = makeSqlLive("cli")

export const MigratedSqlLive = Layer.effectDiscard(migrate).pipe(Layer.provideMerge(SqlLive))

export const ServeSqlLive = Layer.effectDiscard(migrate).pipe(Layer.provideMerge(makeSqlLive("serve")))
