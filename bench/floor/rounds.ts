import { performance } from "node:perf_hooks"
import { type Dispatcher, Pool } from "undici"
import { cpuMs } from "../procs.ts"

// The interleaved load: every round gives each server one batch, in an order rotated by one each round, so that all
// servers see the same machine conditions; CPU (from /proc) and wall time are summed per server across rounds.
export interface Served {
  readonly name: string
  readonly origin: string
  readonly pid: number
  // One prepared request per worker (worker i is Codex session i), reused for each of its requests.
  readonly requests: ReadonlyArray<Dispatcher.RequestOptions>
  readonly ok: (status: number, text: string) => boolean
}

export interface Tally {
  readonly name: string
  requests: number
  errors: number
  errorSample: string
  cpuMs: number
  seconds: number
}

export interface Plan {
  readonly rounds: number
  readonly batch: number
  readonly concurrency: number
}

const timeoutMs = 30_000

const one = async (pool: Pool, served: Served, request: Dispatcher.RequestOptions, tally: Tally) => {
  try {
    const answer = await pool.request({ ...request, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
    const text = await answer.body.text()
    if (served.ok(answer.statusCode, text)) return
    tally.errors++
    if (tally.errorSample === "") tally.errorSample = `HTTP ${answer.statusCode}: ${text.slice(0, 300)}`
  } catch (error) {
    tally.errors++
    if (tally.errorSample === "") tally.errorSample = String(error)
  }
}

const batch = async (pool: Pool, served: Served, plan: Plan, tally: Tally) => {
  let issued = 0
  const worker = async (index: number) => {
    const request = served.requests[index % served.requests.length]!
    while (issued < plan.batch) {
      issued++
      await one(pool, served, request, tally)
    }
  }
  const cpu0 = cpuMs(served.pid)
  const started = performance.now()
  await Promise.all(Array.from({ length: plan.concurrency }, (_, index) => worker(index)))
  tally.seconds += (performance.now() - started) / 1000
  tally.cpuMs += cpuMs(served.pid) - cpu0
  tally.requests += plan.batch
}

const emptyTally = (name: string): Tally => ({ name, requests: 0, errors: 0, errorSample: "", cpuMs: 0, seconds: 0 })

export const interleave = async (servers: ReadonlyArray<Served>, plan: Plan) => {
  const pools = servers.map((served) => new Pool(served.origin, { connections: plan.concurrency, pipelining: 1 }))
  try {
    // One uncounted batch each first, so every server has its connections open and its code warm.
    for (const [index, served] of servers.entries()) {
      const warm = emptyTally(served.name)
      await batch(pools[index]!, served, plan, warm)
      if (warm.errors > 0) {
        process.stderr.write(`${served.name} warm-up: ${warm.errors} errors, e.g. ${warm.errorSample}\n`)
      }
    }
    const tallies = servers.map((served) => emptyTally(served.name))
    for (let round = 0; round < plan.rounds; round++) {
      for (let step = 0; step < servers.length; step++) {
        const index = (round + step) % servers.length
        await batch(pools[index]!, servers[index]!, plan, tallies[index]!)
      }
      process.stderr.write(`round ${round + 1}/${plan.rounds}\n`)
    }
    return tallies
  } finally {
    await Promise.all(pools.map((pool) => pool.close()))
  }
}
