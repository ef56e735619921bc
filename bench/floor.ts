import { Schema } from "effect"
import { performance } from "node:perf_hooks"
import type { Dispatcher } from "undici"
import { codexHeaders, responsesBody } from "../test/support/Requests.ts"
import { completed } from "./answers.ts"
import { countRows, scratchDatabase } from "./floor/database.ts"
import { interleave, type Plan, type Served } from "./floor/rounds.ts"
import { floorTable } from "./floor/table.ts"
import { runBench, start } from "./procs.ts"
import { section } from "./report.ts"

// npm run bench:floor — each layer of the gateway's stack as its own small server in front of the same fake upstream,
// measured in one interleaved run (bench/floor/rounds.ts). FLOOR_ROUNDS, FLOOR_BATCH, FLOOR_ONLY=a,b pick the sizes
// and servers; FLOOR_QUICK=1 runs small counts. Nothing is recorded in BENCHMARKS.md.
const quick = process.env["FLOOR_QUICK"] === "1"
const plan: Plan = {
  rounds: Number(process.env["FLOOR_ROUNDS"] ?? (quick ? 3 : 20)),
  batch: Number(process.env["FLOOR_BATCH"] ?? (quick ? 50 : 600)),
  concurrency: 8
}

interface Server {
  readonly name: string
  readonly script: string
  readonly load: "healthz" | "sse"
  readonly table?: string
}

const all: ReadonlyArray<Server> = [
  { name: "raw-healthz", script: "bench/floor/raw-healthz.ts", load: "healthz" },
  { name: "effect-healthz", script: "bench/floor/effect-healthz.ts", load: "healthz" },
  { name: "pipe", script: "bench/pipe-proxy.ts", load: "sse" },
  { name: "undici-pipe", script: "bench/floor/undici-pipe.ts", load: "sse" },
  { name: "effect-stream", script: "bench/floor/effect-stream.ts", load: "sse" },
  { name: "effect-readable", script: "bench/floor/effect-readable.ts", load: "sse" },
  { name: "effect-raw", script: "bench/floor/effect-raw.ts", load: "sse" },
  { name: "effect-readable+sql", script: "bench/floor/effect-readable-sql.ts", load: "sse", table: "single_rows" },
  {
    name: "effect-readable+batched-sql",
    script: "bench/floor/effect-readable-batched-sql.ts",
    load: "sse",
    table: "batched_rows"
  }
]
const only = process.env["FLOOR_ONLY"]?.split(",").map((name) => name.trim())
const servers = all.filter((server) => only === undefined || only.includes(server.name))

const FakeInfo = Schema.parseJson(Schema.Struct({
  url: Schema.String,
  auth: Schema.NonEmptyArray(
    Schema.Struct({ tokens: Schema.Struct({ access_token: Schema.String, account_id: Schema.String }) })
  )
}))

// Worker i is Codex session i, as in bench/run.ts.
const sse = Array.from({ length: plan.concurrency }, (_, index): Dispatcher.RequestOptions => {
  const thread = `01a216ab-0000-7000-8000-${index.toString(16).padStart(12, "0")}`
  return {
    path: "/backend-api/codex/responses",
    method: "POST",
    headers: codexHeaders("cpk_floor_client", thread),
    body: JSON.stringify(responsesBody("hello", { prompt_cache_key: thread }))
  }
})
const loads: Record<Server["load"], Pick<Served, "requests" | "ok">> = {
  sse: { requests: sse, ok: (status, text) => status === 200 && completed(text) },
  healthz: {
    requests: [{ path: "/healthz", method: "GET" }],
    ok: (status, text) => status === 200 && text === "{\"status\":\"ok\"}"
  }
}

const main = async () => {
  const began = performance.now()
  if (![plan.rounds, plan.batch].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error("FLOOR_ROUNDS and FLOOR_BATCH take positive integers")
  }
  const unknown = only?.filter((name) => !all.some((server) => server.name === name)) ?? []
  if (unknown.length > 0) throw new Error(`unknown FLOOR_ONLY ${unknown} (one of ${all.map((s) => s.name)})`)
  const fakeServer = await start(["--import", "tsx", "bench/fake-server.ts"], {}, /^(\{.*\})$/m)
  const fake = Schema.decodeUnknownSync(FakeInfo)(fakeServer.match[1])
  const account = fake.auth[0].tokens
  const databaseUrl = servers.some((server) => server.table !== undefined) ? await scratchDatabase() : undefined
  const env = {
    PIPE_UPSTREAM_ORIGIN: new URL(fake.url).origin,
    PIPE_ACCESS_TOKEN: account.access_token,
    PIPE_ACCOUNT_ID: account.account_id,
    ...(databaseUrl === undefined ? {} : { FLOOR_DATABASE_URL: databaseUrl })
  }
  const started = await Promise.all(servers.map(async (server): Promise<Served> => {
    const child = await start(
      ["--import", "tsx", server.script],
      { ...env, ...(server.table === undefined ? {} : { FLOOR_TABLE: server.table }) },
      /listening on (http:\/\/127\.0\.0\.1:\d+)/
    )
    process.stderr.write(`${server.name}: ${child.match[1]} (pid ${child.pid})\n`)
    return { name: server.name, origin: child.match[1]!, pid: child.pid, ...loads[server.load] }
  }))
  const tallies = await interleave(started, plan)
  for (const server of servers) {
    if (server.table === undefined || databaseUrl === undefined) continue
    const count = await countRows(databaseUrl, server.table)
    process.stderr.write(`${server.name}: ${count} rows for ${(plan.rounds + 1) * plan.batch} requests\n`)
  }
  const flags = ["FLOOR_ROUNDS", "FLOOR_BATCH", "FLOOR_ONLY", "FLOOR_QUICK"]
    .filter((flag) => process.env[flag] !== undefined)
    .map((flag) => `${flag}=${process.env[flag]} `)
    .join("")
  process.stdout.write(section(`${flags}npm run bench:floor`, floorTable(tallies, plan)))
  process.stderr.write(`whole run: ${((performance.now() - began) / 1000).toFixed(0)} s\n`)
}

await runBench("floor", main)
