import { performance } from "node:perf_hooks"
import { Pool } from "undici"
import type { Route } from "./answers.ts"
import { cpuMs, rssMb } from "./procs.ts"

// The load generator: fixed request counts at a fixed concurrency over one undici Pool, each answer checked.
export interface Call {
  readonly headers: Record<string, string>
  readonly body: string
}

export interface Target {
  readonly name: "direct" | "gateway" | "gateway-v1" | "pipe"
  readonly origin: string
  // where the load goes and what a whole answer looks like there (bench/answers.ts)
  readonly route: Route
  readonly pid: number
  // One prepared request per worker (worker i is Codex session i), reused for each of its requests.
  readonly calls: ReadonlyArray<Call>
  // SQL statements the target has sent so far, where they are counted (bench/pg-counter.ts)
  readonly statements?: () => number
}

export interface Level {
  readonly label: string
  readonly concurrency: number
  readonly requests: number
}

export interface LevelResult {
  readonly target: Target["name"]
  readonly level: string
  readonly requests: number
  readonly errors: number
  readonly errorSample: string
  readonly rps: number
  readonly ttfbP50: number
  readonly ttfbP99: number
  readonly fullP50: number
  readonly targetCpuPerReq: number
  readonly fakeCpuPerReq: number | null
  readonly targetRssMb: number
  readonly statementsPerReq: number | null
}

const timeoutMs = 30_000

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN

interface Raw {
  readonly ttfb: Array<number>
  readonly full: Array<number>
  errors: number
  errorSample: string
}

const one = async (pool: Pool, route: Route, call: Call, raw: Raw) => {
  const started = performance.now()
  try {
    const answer = await pool.request({
      path: route.path,
      method: "POST",
      headers: call.headers,
      body: call.body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs
    })
    let first = -1
    const chunks: Array<Buffer> = []
    for await (const chunk of answer.body) {
      if (first < 0) first = performance.now()
      chunks.push(chunk as Buffer)
    }
    const ended = performance.now()
    const text = Buffer.concat(chunks).toString()
    if (answer.statusCode !== 200 || !route.complete(text)) {
      raw.errors++
      if (raw.errorSample === "") raw.errorSample = `HTTP ${answer.statusCode}: ${text.slice(0, 300)}`
      return
    }
    raw.ttfb.push(first - started)
    raw.full.push(ended - started)
  } catch (error) {
    raw.errors++
    if (raw.errorSample === "") raw.errorSample = String(error)
  }
}

const drive = async (pool: Pool, target: Target, level: Level, raw: Raw) => {
  let issued = 0
  const worker = async (index: number) => {
    const call = target.calls[index % target.calls.length]
    if (call === undefined) throw new Error(`${target.name} has no prepared calls`)
    while (issued < level.requests) {
      issued++
      await one(pool, target.route, call, raw)
    }
  }
  await Promise.all(Array.from({ length: level.concurrency }, (_, index) => worker(index)))
}

// One level against one target; CPU and RSS are read from /proc around it.
const measureLevel = async (pool: Pool, target: Target, fakePid: number, level: Level): Promise<LevelResult> => {
  const raw: Raw = { ttfb: [], full: [], errors: 0, errorSample: "" }
  const cpu0 = cpuMs(target.pid)
  const fake0 = cpuMs(fakePid)
  const statements0 = target.statements?.() ?? 0
  const started = performance.now()
  await drive(pool, target, level, raw)
  const seconds = (performance.now() - started) / 1000
  const cpu = cpuMs(target.pid) - cpu0
  const fake = cpuMs(fakePid) - fake0
  const ttfb = raw.ttfb.sort((a, b) => a - b)
  process.stderr.write(
    `  ${target.name} ${level.label}: ${(level.requests / seconds).toFixed(0)} req/s, ${raw.errors} errors\n`
  )
  return {
    target: target.name,
    level: level.label,
    requests: level.requests,
    errors: raw.errors,
    errorSample: raw.errorSample,
    rps: level.requests / seconds,
    ttfbP50: percentile(ttfb, 0.5),
    ttfbP99: percentile(ttfb, 0.99),
    fullP50: percentile(raw.full.sort((a, b) => a - b), 0.5),
    targetCpuPerReq: cpu / level.requests,
    fakeCpuPerReq: target.pid === fakePid ? null : fake / level.requests,
    targetRssMb: rssMb(target.pid),
    statementsPerReq: target.statements === undefined ? null : (target.statements() - statements0) / level.requests
  }
}

// Each target's warm-up, then the levels in order. Targets measured together (one gateway process behind two routes)
// take each level in turn, first one first on even levels and last on odd ones: measured one after the other, the
// second ran on a process the first had warmed up, which alone moved CPU per request by 20-30 %.
export const measure = async (
  targets: ReadonlyArray<Target>,
  fakePid: number,
  warmUp: Level,
  levels: ReadonlyArray<Level>
) => {
  const connections = Math.max(...levels.map((level) => level.concurrency))
  const runs = targets.map((target) => ({ target, pool: new Pool(target.origin, { connections, pipelining: 1 }) }))
  const results: Array<LevelResult> = []
  try {
    for (const { pool, target } of runs) {
      const warm: Raw = { ttfb: [], full: [], errors: 0, errorSample: "" }
      await drive(pool, target, warmUp, warm)
      if (warm.errors > 0) {
        process.stderr.write(`  ${target.name} warm-up: ${warm.errors} errors, e.g. ${warm.errorSample}\n`)
      }
    }
    for (const [index, level] of levels.entries()) {
      for (const { pool, target } of index % 2 === 0 ? runs : [...runs].reverse()) {
        results.push(await measureLevel(pool, target, fakePid, level))
      }
    }
  } finally {
    await Promise.all(runs.map(({ pool }) => pool.close()))
  }
  return targets.flatMap((target) => results.filter((result) => result.target === target.name))
}
