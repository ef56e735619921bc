import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted, Schema } from "effect"
import { onCleanup } from "../procs.ts"

// The scratch database of the SQL servers. Statements run in the bench's own process rather than through psql, so
// that cleanup, which stops every child, cannot stop the DROP it is running.
const adminUrl = process.env["BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"

const query = (url: string, statement: string) =>
  Effect.runPromise(
    Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe(statement)).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(url) }))
    )
  )

export const scratchDatabase = async () => {
  const name = `codex_pooler_floor_${process.pid}`
  await query(adminUrl, `CREATE DATABASE ${name}`)
  onCleanup(async () => void await query(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

const Count = Schema.Tuple(Schema.Struct({ rows: Schema.Number }))

export const countRows = async (url: string, table: string) =>
  Schema.decodeUnknownSync(Count)(await query(url, `SELECT count(*)::int AS rows FROM ${table}`))[0].rows
