import { execFileSync } from "node:child_process"
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs"
import { availableParallelism, loadavg } from "node:os"
import { join } from "node:path"
import type { LevelResult } from "./load.ts"
import { root } from "./procs.ts"

// The results table, the derived lines against the project's targets, and the BENCHMARKS.md section.
const file = join(root, "BENCHMARKS.md")

const intro = `# Benchmarks

\`npm run bench\` (bench/run.ts) measures loopback SSE load on \`POST /backend-api/codex/responses\` against these
targets, one after the other: **direct** (the fake Codex backend, with the account headers the gateway would send),
**pipe** (bench/pipe-proxy.ts: node:http in, keep-alive node:http out, Authorization swapped, bytes piped) and
**gateway** (\`codex-pooler serve\` from dist/ on a fresh PostgreSQL database, a pool of 2 fake accounts, a Pool key:
authentication, selection, sessions and accounting all on); and **gateway-v1**, the same gateway process on \`POST
/v1/chat/completions\` with \`stream: true\` (translated to the same upstream call and back), measured level by level in
turn with gateway's Codex route (first one first, then the other first, so neither only ever runs on a process the other
has warmed up). The fake backend, the pipe and the gateway each run in a child process; the load generator is undici in
the bench process. Per target: a warm-up, then a fixed number of requests at concurrency 1, 8 and 64 (worker i is Codex
session i). Every answer must be HTTP 200 ending with a \`response.completed\` event (gateway-v1: a
chat.completion.chunk stream ending with a finish_reason and \`data: [DONE]\`), otherwise it counts as an error. TTFB is
the first body byte; "full" is the last. CPU is utime+stime from /proc/<pid>/stat per request (the target's own, and the
fake backend's separately); RSS is VmRSS after the level. With BENCH_COUNT_SQL=1, SQL statements per request are counted
by a relay in front of PostgreSQL (bench/pg-counter.ts: each Sync and simple Query the gateway sends, background work
included); the relay's hop makes that run's latency and CPU read high. Targets (issue #12): gateway req/s at c=8 ≥ 35 %
of pipe's, CPU per request at c=8 and c=64 ≤ 4× pipe's, added serial TTFB p50 over direct ≤ 1 ms. Issue #15: gateway-v1
CPU per request ≤ 1.2× the gateway's on Codex's route, at each level.
Options (see bench/run.ts): BENCH_TARGETS, BENCH_QUICK=1, BENCH_PROFILE=1; quick and profiled runs are not recorded here.
`

const fixed = (value: number | null, digits = 2) => value === null || Number.isNaN(value) ? "—" : value.toFixed(digits)

export const table = (results: ReadonlyArray<LevelResult>) =>
  [
    "| target | level | requests | errors | req/s | TTFB p50 ms | TTFB p99 ms | full p50 ms | target CPU ms/req | fake CPU ms/req | target RSS MB | SQL stmts/req |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...results.map((r) =>
      `| ${r.target} | ${r.level} | ${r.requests} | ${r.errors} | ${fixed(r.rps, 0)} | ${fixed(r.ttfbP50)} | ${
        fixed(r.ttfbP99)
      } | ${fixed(r.fullP50)} | ${fixed(r.targetCpuPerReq, 3)} | ${fixed(r.fakeCpuPerReq, 3)} | ${
        fixed(r.targetRssMb, 0)
      } | ${fixed(r.statementsPerReq)} |`
    )
  ].join("\n")

const find = (results: ReadonlyArray<LevelResult>, target: LevelResult["target"], level: string) =>
  results.find((r) => r.target === target && r.level === level)

export const derived = (results: ReadonlyArray<LevelResult>, serial: string, c8: string) => {
  const lines: Array<string> = []
  const gateway8 = find(results, "gateway", c8)
  const pipe8 = find(results, "pipe", c8)
  if (gateway8 && pipe8) {
    const share = 100 * gateway8.rps / pipe8.rps
    lines.push(
      `- gateway throughput at c=8: ${share.toFixed(1)} % of pipe (${gateway8.rps.toFixed(0)} vs ${
        pipe8.rps.toFixed(0)
      } req/s) — target ≥ 35 % (issue #12): ${share >= 35 ? "met" : "MISSED"}`
    )
  }
  for (const level of [c8, "c=64"]) {
    const gateway = find(results, "gateway", level)
    const pipe = find(results, "pipe", level)
    if (!gateway || !pipe) continue
    const ratio = gateway.targetCpuPerReq / pipe.targetCpuPerReq
    lines.push(
      `- gateway CPU per request at ${level}: ${ratio.toFixed(1)}× pipe's (${gateway.targetCpuPerReq.toFixed(3)} vs ${
        pipe.targetCpuPerReq.toFixed(3)
      } ms) — target ≤ 4× (issue #12): ${ratio <= 4 ? "met" : "MISSED"}`
    )
  }
  for (const level of [serial, c8, "c=64"]) {
    const v1 = find(results, "gateway-v1", level)
    const codex = find(results, "gateway", level)
    if (!v1 || !codex) continue
    const ratio = v1.targetCpuPerReq / codex.targetCpuPerReq
    lines.push(
      `- gateway-v1 CPU per request at ${level}: ${ratio.toFixed(2)}× the Codex SSE route's (${
        v1.targetCpuPerReq.toFixed(3)
      } vs ${codex.targetCpuPerReq.toFixed(3)} ms) — target ≤ 1.2× (issue #15): ${ratio <= 1.2 ? "met" : "MISSED"}`
    )
  }
  const gateway1 = find(results, "gateway", serial)
  const direct1 = find(results, "direct", serial)
  if (gateway1 && direct1) {
    const added = gateway1.ttfbP50 - direct1.ttfbP50
    lines.push(
      `- added TTFB p50 of gateway over direct, serial: ${added.toFixed(2)} ms (${gateway1.ttfbP50.toFixed(2)} vs ${
        direct1.ttfbP50.toFixed(2)
      } ms) — target ≤ 1 ms: ${added <= 1 ? "met" : "MISSED"}`
    )
  }
  const errors = results.reduce((sum, r) => sum + r.errors, 0)
  lines.push(
    `- errors: ${errors}${
      results.filter((r) => r.errors > 0).map((r) => `; ${r.target} ${r.level}: ${r.errorSample.slice(0, 160)}`).join(
        ""
      )
    }`
  )
  return lines.join("\n")
}

const machine = () => {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8")
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown CPU"
  const memKb = Number(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0)
  const load = loadavg().map((value) => value.toFixed(2)).join(" ")
  return `${availableParallelism()} CPUs (nproc), ${model}, ${
    (memKb / 1024 / 1024).toFixed(1)
  } GiB RAM, Node ${process.version}; load average at the end ${load}`
}

export const section = (command: string, body: string) => {
  const date = execFileSync("date", ["-u"]).toString().trim()
  return `\n## ${date}\n\n- machine: ${machine()}\n- command: \`${command}\`\n\n${body}\n`
}

export const record = (text: string) => {
  if (!existsSync(file)) writeFileSync(file, intro)
  appendFileSync(file, text)
}
