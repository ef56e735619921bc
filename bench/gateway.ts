import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startPgCounter } from "./pg-counter.ts"
import { onCleanup, root, run, start, type Started, stop } from "./procs.ts"

// `codex-pooler serve` from dist/ on a fresh PostgreSQL database, with a pool of the fake's accounts and a Pool key.
const adminUrl = process.env["BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"
const main = join(root, "dist/src/main.js")

const newestMtime = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const path = join(dir, entry.name)
    return Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }, 0)

// `npm run build` when dist/ is missing or older than src/ or migrations/.
export const ensureBuild = async () => {
  const built = existsSync(main) ? statSync(main).mtimeMs : 0
  const sources = Math.max(newestMtime(join(root, "src")), newestMtime(join(root, "migrations")))
  if (built >= sources) return
  process.stderr.write("dist/ is missing or stale: npm run build\n")
  await run("npm", ["run", "build", "--silent"])
}

const admin = (statement: string) =>
  Effect.runPromise(
    Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe(statement)).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(adminUrl) }))
    )
  )

const createDatabase = async () => {
  const name = `codex_pooler_bench_${randomBytes(6).toString("hex")}`
  await admin(`CREATE DATABASE ${name}`)
  onCleanup(async () => {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  })
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

const startCounter = async (databaseUrl: string) => {
  const database = new URL(databaseUrl)
  const counter = await startPgCounter({ host: database.hostname, port: Number(database.port || 5432) })
  onCleanup(async () => counter.close())
  const counted = new URL(databaseUrl)
  counted.hostname = "127.0.0.1"
  counted.port = String(counter.port)
  return { url: counted.toString(), statements: counter.statements }
}

export interface FakeInfo {
  readonly url: string
  readonly authUrl: string
  readonly auth: ReadonlyArray<{ readonly tokens: { readonly access_token: string; readonly account_id: string } }>
}

export interface Gateway {
  readonly origin: string
  readonly key: string
  readonly server: Started
  readonly profileDir: string | null
  readonly statements?: () => number
}

export const startGateway = async (fake: FakeInfo, profile: boolean): Promise<Gateway> => {
  const dir = mkdtempSync(join(tmpdir(), "codex-pooler-bench-"))
  onCleanup(async () => rmSync(dir, { recursive: true, force: true }))
  const databaseUrl = await createDatabase()
  // BENCH_COUNT_SQL=1: serve reaches PostgreSQL through the counter (the setup commands below go straight to it). The
  // relay's hop adds latency and CPU to every statement, so a counted run's other columns read high.
  const counter = process.env["BENCH_COUNT_SQL"] === "1" ? await startCounter(databaseUrl) : undefined
  const env = {
    DATABASE_URL: databaseUrl,
    CODEX_POOLER_SECRET_KEY: randomBytes(32).toString("base64"),
    CODEX_POOLER_UPSTREAM_URL: fake.url,
    CODEX_POOLER_AUTH_URL: fake.authUrl,
    CODEX_POOLER_DATA_DIR: join(dir, "data"),
    // The websocket bench holds a thousand sockets open on its one key.
    CODEX_POOLER_MAX_WEBSOCKETS_PER_KEY: "4096",
    LOG_LEVEL: process.env["BENCH_LOG_LEVEL"] ?? "info"
  }
  const profileDir = profile ? (process.env["BENCH_PROFILE_DIR"] ?? join(dir, "profile")) : null
  const flags = profileDir === null ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]
  const server = await start(
    [...flags, main, "serve"],
    { ...env, DATABASE_URL: counter?.url ?? databaseUrl, HOST: "127.0.0.1", PORT: "0" },
    /Listening on (http:\/\/127\.0\.0\.1:\d+)/
  )
  const cli = (args: ReadonlyArray<string>) => run(process.execPath, [main, ...args], env)
  await cli(["pool", "create", "bench", "--name", "Bench"])
  for (const [index, auth] of fake.auth.entries()) {
    const file = join(dir, `auth-${index}.json`)
    writeFileSync(file, JSON.stringify(auth), { mode: 0o600 })
    await cli(["account", "import", "--pool", "bench", file])
  }
  const key = (await cli(["key", "create", "--pool", "bench", "--name", "bench"])).trimEnd().split("\n").at(-1) ?? ""
  if (!key.startsWith("cpk_")) throw new Error(`key create printed no key: ${key}`)
  return {
    origin: server.match[1] ?? "",
    key,
    server,
    profileDir,
    ...(counter === undefined ? {} : { statements: counter.statements })
  }
}

// SIGTERM lets serve drain and exit normally, which is also when --cpu-prof writes its profile.
export const stopGateway = (gateway: Gateway) => stop(gateway.server.child, 30_000)
