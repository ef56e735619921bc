import { PgClient } from "@effect/sql-pg"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { MigratedSqlLive } from "../../src/Sql.ts"
import { seedDataDir } from "./PgliteTemplate.ts"

export type Backend = "pglite" | "postgres"

const postgresUrl = process.env["TEST_DATABASE_URL"]

// PGlite always; real PostgreSQL too when TEST_DATABASE_URL is set (CI sets it).
export const backends: ReadonlyArray<Backend> = postgresUrl ? ["pglite", "postgres"] : ["pglite"]

export const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), `codex-pooler-${prefix}-`))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

const withDatabase = (base: string, database: string) => {
  const url = new URL(base)
  url.pathname = `/${database}`
  return url.toString()
}

// Each suite gets a database of its own, dropped afterwards, so suites never see each other's rows or migrations.
export const freshPostgres = (base: string) =>
  Effect.gen(function*() {
    const name = `codex_pooler_test_${randomBytes(6).toString("hex")}`
    const admin = PgClient.layer({ url: Redacted.make(base) })
    const run = (statement: string) =>
      Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe(statement)).pipe(Effect.provide(admin), Effect.orDie)
    yield* Effect.acquireRelease(run(`CREATE DATABASE ${name}`), () =>
      run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    return withDatabase(base, name)
  })

// The environment a gateway process needs for this backend: what the tests pass to a child process or a ConfigProvider.
// An embedded data dir starts from a copy of an initialised PGlite database (PgliteTemplate.ts: initdb costs seconds
// of CPU each time, and is the same every time), unmigrated, as a second start finds it; `fresh` leaves it empty, for
// the tests of a first start.
export const backendEnv = (backend: Backend, options: { readonly fresh?: boolean } = {}) =>
  Effect.gen(function*() {
    if (backend === "postgres" && postgresUrl) {
      return {
        DATABASE_URL: yield* freshPostgres(postgresUrl),
        CODEX_POOLER_SECRET_KEY: randomBytes(32).toString("base64")
      }
    }
    const dataDir = path.join(yield* tempDir("data"), "data")
    if (options.fresh !== true) yield* seedDataDir(dataDir)
    return { CODEX_POOLER_DATA_DIR: dataDir }
  })

export const configFrom = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

export const withBackend = <A, E, R>(backend: Backend, services: Layer.Layer<A, E, R>) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const env = yield* backendEnv(backend)
    return services.pipe(Layer.provideMerge(MigratedSqlLive), Layer.provide(configFrom(env)))
  }))
