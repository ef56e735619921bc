import { performance } from "node:perf_hooks"
import { Pool } from "undici"
import { cpuMs, rssMb } from "./procs.ts"

// The load generator: fixed request counts at a fixed concurrency over one undici Pool, each answer checked.
export interface Call {
  readonly headers: Record<string, string>
  readonly body: string
}

export interface Target {
  readonly name: "direct" | "gateway" | "pipe"
  readonly origin: string
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

const path = "/backend-api/codex/responses"
const timeoutMs = 30_000

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN

// Complete means: the last SSE frame is `event: response.completed` with a matching data payload.
export const completed = (text: string) => {
  const last = text.trimEnd().split("\n\n").at(-1) ?? ""
  const data = /^data: (.*)$/m.exec(last)?.[1]
  if (!/^event: response\.completed$/m.test(last) || data === undefined) return false
  try {
    return (JSON.parse(data) as { readonly type?: unknown }).type === "response.completed"
  } catch {
    return false
  }
}

interface Raw {
  readonly ttfb: Array<number>
  readonly full: Array<number>
  errors: number
  errorSample: string
}

const one = async (pool: Pool, call: Call, raw: Raw) => {
  const started = performance.now()
  try {
    const answer = await pool.request({
      path,
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
    if (answer.statusCode !== 200 || !completed(text)) {
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
      await one(pool, call, raw)
    }
  }
  await Promise.all(Array.from({ length: level.concurrency }, (_, index) => worker(index)))
}

// Runs the levels in order after a warm-up; CPU and RSS are read from /proc around each level.
export const measure = async (target: Target, fakePid: number, warmUp: Level, levels: ReadonlyArray<Level>) => {
  const pool = new Pool(target.origin, {
    connections: Math.max(...levels.map((level) => level.concurrency)),
    pipelining: 1
  })
  const results: Array<LevelResult> = []
  try {
    const warm: Raw = { ttfb: [], full: [], errors: 0, errorSample: "" }
    await drive(pool, target, warmUp, warm)
    if (warm.errors > 0) {
      process.stderr.write(`  ${target.name} warm-up: ${warm.errors} errors, e.g. ${warm.errorSample}\n`)
    }
    for (const level of levels) {
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
      const result: LevelResult = {
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
        statementsPerReq: target.statements === undefined
          ? null
          : (target.statements() - statements0) / level.requests
      }
      results.push(result)
      process.stderr.write(`  ${target.name} ${level.label}: ${result.rps.toFixed(0)} req/s, ${raw.errors} errors\n`)
    }
  } finally {
    await pool.close()
  }
  return results
}
