import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { seedStatements } from "./dashboard/seed.ts"
import { ensureBuild } from "./gateway.ts"
import { cpuMs, onCleanup, root, run, runBench, start } from "./procs.ts"

// npx tsx bench/dashboard.ts — issue #16: the gateway CPU and wall time of a dashboard page with 100k request rows.
// `serve` from dist/ on a fresh PostgreSQL database (BENCH_DATABASE_URL names the server, dropped at the end), 100 000
// requests over the last 7 days across 3 Pools, 9 keys and 6 accounts (bench/dashboard/seed.ts), a read operator token;
// each page is fetched serially, warm-ups first. CPU is the gateway's utime+stime over a page's loop, per page.
// BENCH_STARTED_INDEX=1 adds the index on requests (started_at) that test/DashboardPlans.test.ts finds missing (issue
// #16), which no migration creates yet, to see what it changes.
const adminUrl = process.env["BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"
const main = join(root, "dist/src/main.js")
const rows = 100_000
const warmUps = 5
const samples = 50
const targetMs = 50
const startedIndex = process.env["BENCH_STARTED_INDEX"] === "1"

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString()
const pages = [
  "/admin",
  "/admin/requests",
  "/admin/requests?offset=1000",
  "/admin/requests?pool=seed-1",
  "/admin/requests?key=key_seed4",
  "/admin/requests?status=failed",
  "/admin/requests?model=gpt-5.4-mini",
  `/admin/requests?account=acct_seed2&since=${daysAgo(2)}&until=${daysAgo(1)}`
]

const sqlOn = (url: string, statements: ReadonlyArray<string>) =>
  Effect.runPromise(
    Effect.forEach(statements, (statement) => Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe(statement)), {
      discard: true
    }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })))
  )

const createDatabase = async () => {
  const name = `codex_pooler_bench_${randomBytes(6).toString("hex")}`
  await sqlOn(adminUrl, [`CREATE DATABASE ${name}`])
  onCleanup(() => sqlOn(adminUrl, [`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN

const fetchPage = async (origin: string, path: string, token: string) => {
  const response = await fetch(`${origin}${path}`, { headers: { authorization: `Bearer ${token}` } })
  const body = await response.text()
  if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${body.slice(0, 300)}`)
  return body.length
}

const measurePage = async (origin: string, pid: number, path: string, token: string) => {
  for (let i = 0; i < warmUps; i++) await fetchPage(origin, path, token)
  const wall: Array<number> = []
  let bytes = 0
  const cpuBefore = cpuMs(pid)
  for (let i = 0; i < samples; i++) {
    const begun = performance.now()
    bytes = await fetchPage(origin, path, token)
    wall.push(performance.now() - begun)
  }
  const cpu = (cpuMs(pid) - cpuBefore) / samples
  wall.sort((a, b) => a - b)
  return { path, cpu, p50: percentile(wall, 0.5), p99: percentile(wall, 0.99), bytes }
}

const bench = async () => {
  await ensureBuild()
  const dir = mkdtempSync(join(tmpdir(), "codex-pooler-dashboard-"))
  onCleanup(async () => rmSync(dir, { recursive: true, force: true }))
  const env = {
    DATABASE_URL: await createDatabase(),
    CODEX_POOLER_SECRET_KEY: randomBytes(32).toString("base64"),
    CODEX_POOLER_DATA_DIR: join(dir, "data"),
    LOG_LEVEL: "warn"
  }
  await run(process.execPath, [main, "migrate"], env)
  const seeded = performance.now()
  await sqlOn(env.DATABASE_URL, [
    ...seedStatements(rows),
    ...(startedIndex ? ["CREATE INDEX requests_started_idx ON requests (started_at DESC)", "ANALYZE requests"] : [])
  ])
  process.stderr.write(`seeded ${rows} requests in ${Math.round(performance.now() - seeded)} ms\n`)
  const created = await run(
    process.execPath,
    [main, "operator-token", "create", "--scope", "read", "--name", "bench"],
    env
  )
  const token = created.split("\n").find((line) => line.startsWith("cpo_")) ?? ""
  if (token === "") throw new Error(`operator-token create printed no token: ${created}`)
  const server = await start(
    [main, "serve"],
    { ...env, LOG_LEVEL: "info", HOST: "127.0.0.1", PORT: "0" },
    /Listening on (http:\/\/127\.0\.0\.1:\d+)/
  )
  const origin = server.match[1] ?? ""
  const idleBefore = cpuMs(server.pid)
  await new Promise((resolve) => setTimeout(resolve, 3_000))
  const idle = (cpuMs(server.pid) - idleBefore) / 3
  const results = []
  for (const path of pages) results.push(await measurePage(origin, server.pid, path, token))
  const worst = results.reduce((a, b) => (b.cpu > a.cpu ? b : a))
  const lines = [
    `- machine: ${availableParallelism()} CPUs (nproc), ${cpus()[0]?.model ?? "?"}, ${
      (totalmem() / 2 ** 30).toFixed(1)
    } GiB RAM, Node ${process.version}; load average at the end ${loadavg().map((n) => n.toFixed(2)).join(" ")}`,
    `- ${rows} request rows over 7 days; per page ${warmUps} warm-ups, then ${samples} serial requests; idle gateway ${
      idle.toFixed(1)
    } ms CPU/s${startedIndex ? "; with requests_started_idx (BENCH_STARTED_INDEX=1)" : ""}`,
    "",
    "| page | CPU ms/page | wall p50 ms | wall p99 ms | HTML kB | CPU < 50 ms |",
    "|---|---:|---:|---:|---:|---|",
    ...results.map((r) =>
      `| \`${r.path.replace(/since=[^&]*&until=.*/, "since=<2 days ago>&until=<1 day ago>")}\` | ${
        r.cpu.toFixed(1)
      } | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${(r.bytes / 1024).toFixed(0)} | ${
        r.cpu < targetMs ? "met" : "MISSED"
      } |`
    ),
    "",
    `- slowest page: ${worst.cpu.toFixed(1)} ms gateway CPU — target < ${targetMs} ms per page: ${
      worst.cpu < targetMs ? "met" : "MISSED"
    }`
  ]
  process.stdout.write(`${lines.join("\n")}\n`)
}

await runBench("dashboard bench", bench)
