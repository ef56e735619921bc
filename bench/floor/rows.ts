import type { HttpServerRequest } from "@effect/platform"
import { SqlClient, SqlSchema } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Config, Effect, Schema, String } from "effect"

// One row per request, as the gateway writes its request row, into the bench's scratch database (FLOOR_DATABASE_URL)
// and a table the bench names for this server (FLOOR_TABLE), made at start.
export const Row = Schema.Struct({ thread: Schema.String, bodyBytes: Schema.Number })
export type Row = typeof Row.Type

export const SqlLive = PgClient.layerConfig({
  url: Config.redacted("FLOOR_DATABASE_URL"),
  transformQueryNames: Config.succeed(String.camelToSnake)
})

export const rowOf = (request: HttpServerRequest.HttpServerRequest, body: Buffer): Row => ({
  thread: request.headers["session-id"] ?? "",
  bodyBytes: body.length
})

export const makeRows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const table = yield* Config.string("FLOOR_TABLE")
  yield* sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
    id bigserial PRIMARY KEY,
    thread text NOT NULL,
    body_bytes integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`.pipe(Effect.orDie)
  const insert = SqlSchema.void({
    Request: Schema.Array(Row),
    execute: (rows) => sql`INSERT INTO ${sql(table)} ${sql.insert(rows)}`
  })
  return { insert: (rows: ReadonlyArray<Row>) => Effect.orDie(insert(rows)) }
})
