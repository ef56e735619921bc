import type { Plan, Tally } from "./rounds.ts"

const fixed = (value: number, digits: number) => Number.isFinite(value) ? value.toFixed(digits) : "—"
const cpuPerRequest = (tally: Tally) => tally.cpuMs / tally.requests

// One row per server; CPU per request is also given as a multiple of pipe's, the floor any proxy starts from.
export const floorTable = (tallies: ReadonlyArray<Tally>, plan: Plan) => {
  const pipe = tallies.find((tally) => tally.name === "pipe")
  const rows = tallies.map((t) =>
    `| ${t.name} | ${t.requests} | ${t.errors} | ${fixed(t.requests / t.seconds, 0)} | ${
      fixed(cpuPerRequest(t), 3)
    } | ${pipe === undefined ? "—" : fixed(cpuPerRequest(t) / cpuPerRequest(pipe), 2)} |`
  )
  const errors = tallies.filter((t) => t.errors > 0).map((t) => `- ${t.name}: ${t.errorSample.slice(0, 160)}`)
  return [
    "| server | requests | errors | req/s | CPU ms/req | CPU/req ÷ pipe |",
    "|---|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    `${plan.rounds} rounds × ${plan.batch} requests per server at concurrency ${plan.concurrency}, in an order rotated`,
    "each round, after one uncounted batch each. CPU is the server process's own (utime+stime). The healthz servers",
    "answer GET /healthz; the others relay bench/run.ts's SSE request to the fake upstream.",
    ...errors
  ].join("\n")
}
