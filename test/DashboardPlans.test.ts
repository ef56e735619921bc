import { SqlClient, Statement } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { seedStatements } from "../bench/dashboard/seed.ts"
import { Activity } from "../src/Activity.ts"
import { FleetRepo } from "../src/Mcp/FleetRepo.ts"
import { backends, withBackend } from "./support/Databases.ts"

// Issue #16: every statement the dashboard (GET /admin) and the request log (GET /admin/requests) run on `requests`
// reaches it through an index, never a Seq Scan. The statements are the services' own, captured as they run, then
// EXPLAINed with their parameters on 20 000 analysed rows over 7 days (bench/dashboard/seed.ts).

// Every object in an EXPLAIN (FORMAT JSON) answer: its plan nodes, Plans and InitPlans included.
const nodes = (value: unknown): ReadonlyArray<Record<string, unknown>> => {
  if (Array.isArray(value)) return value.flatMap(nodes)
  if (typeof value !== "object" || value === null) return []
  const node = Object.fromEntries(Object.entries(value))
  return [node, ...Object.values(node).flatMap(nodes)]
}

// The statements `effect` runs, compiled with their parameters.
const statementsOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const captured: Array<readonly [string, ReadonlyArray<unknown>]> = []
    yield* Statement.withTransformer(effect, (statement) =>
      Effect.sync(() => {
        captured.push(statement.compile())
        return statement
      }))
    return captured
  })

// How a statement's plan reaches `requests`: its Seq Scans there and the requests_* indexes it uses.
const accessOf = Effect.fnUntraced(function*([text, params]: readonly [string, ReadonlyArray<unknown>]) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql.unsafe(`EXPLAIN (FORMAT JSON) ${text}`, params)
  const value = Object.values(rows[0] ?? {})[0]
  const all = nodes(typeof value === "string" ? JSON.parse(value) : value)
  const indexes = all.flatMap((node) => {
    const name = node["Index Name"]
    return typeof name === "string" && name.startsWith("requests_") ? [name] : []
  })
  return {
    seqScans: all.filter((node) => node["Node Type"] === "Seq Scan" && node["Relation Name"] === "requests").length,
    indexes: [...new Set(indexes)].sort()
  }
})

const day = 86_400_000
const activity = <A, E>(f: (service: typeof Activity.Service) => Effect.Effect<A, E>) => Effect.flatMap(Activity, f)

// Each case: the statement (the nth one its effect runs) and the requests_* indexes its plan should use. `started` is
// requests_started_idx, on requests (started_at DESC): no migration creates it yet (see the second describe).
const started = "requests_started_idx"
interface Case {
  readonly name: string
  readonly run: Effect.Effect<unknown, unknown, Activity | FleetRepo>
  readonly nth: number
  readonly uses: ReadonlyArray<string>
}

const cases: ReadonlyArray<Case> = [
  { name: "dashboard: counts", run: activity((a) => a.status), nth: 0, uses: ["requests_in_progress_idx", started] },
  { name: "dashboard: usage by Pool, 24 h", run: activity((a) => a.usage({})), nth: 0, uses: [started] },
  { name: "dashboard: newest 20 requests", run: activity((a) => a.requests({ limit: 20 })), nth: 0, uses: [started] },
  { name: "dashboard: hourly chart, 24 h", run: activity((a) => a.charts), nth: 0, uses: [started] },
  { name: "dashboard: daily chart, 7 days", run: activity((a) => a.charts), nth: 1, uses: [started] },
  { name: "dashboard: errors by code, 24 h", run: activity((a) => a.charts), nth: 2, uses: [started] },
  {
    name: "dashboard: keys with their usage",
    run: Effect.flatMap(FleetRepo, (f) => f.keys),
    nth: 0,
    uses: ["requests_key_started_idx"]
  },
  { name: "request log: newest 50", run: activity((a) => a.requests({})), nth: 0, uses: [started] },
  { name: "request log: page 21", run: activity((a) => a.requests({ offset: 1000 })), nth: 0, uses: [started] },
  { name: "request log: by Pool", run: activity((a) => a.requests({ pool: "seed-1" })), nth: 0, uses: [started] },
  {
    name: "request log: by key",
    run: activity((a) => a.requests({ keyId: "key_seed4" })),
    nth: 0,
    uses: ["requests_key_started_idx"]
  },
  {
    name: "request log: by account and time range",
    run: activity((a) =>
      a.requests({ accountId: "acct_seed2", since: new Date(Date.now() - 2 * day), until: new Date(Date.now() - day) })
    ),
    nth: 0,
    uses: ["requests_account_started_idx"]
  },
  { name: "request log: by status", run: activity((a) => a.requests({ status: "failed" })), nth: 0, uses: [started] },
  {
    name: "request log: by model",
    run: activity((a) => a.requests({ model: "gpt-5.4-mini" })),
    nth: 0,
    uses: [started]
  }
] as const

const seeded = (extra: ReadonlyArray<string>) =>
  withBackend(
    "postgres",
    Layer.mergeAll(Activity.Default, FleetRepo.Default).pipe(
      Layer.provideMerge(Layer.effectDiscard(
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.forEach([...seedStatements(20_000), ...extra], (statement) =>
            sql.unsafe(statement), {
            discard: true
          })).pipe(Effect.orDie)
      ))
    )
  )

const planOf = (test: Case) =>
  Effect.flatMap(statementsOf(test.run), (statements) => accessOf(statements[test.nth] ?? ["", []]))

// The plan each case should have: no Seq Scan on requests, and exactly the indexes it names; where a Seq Scan is the
// right plan (`gap`), that plan is pinned.
const plans = (description: string, extra: ReadonlyArray<string>, gap: (test: Case) => ReadonlyArray<string> | null) =>
  // PostgreSQL's planner only: skipped (not missing, which vitest counts as a failure) without TEST_DATABASE_URL.
  describe.skipIf(!backends.includes("postgres"))(description, () => {
    layer(seeded(extra), { excludeTestServices: true, timeout: 60_000 })((it) => {
      for (const test of cases) {
        const today = gap(test)
        const expected = today === null
          ? { seqScans: 0, indexes: [...test.uses].sort() }
          : { seqScans: 1, indexes: [...today].sort() }
        it.effect(
          today === null ? test.name : `${test.name}: Seq Scan`,
          () => Effect.map(planOf(test), (access) => expect(access, test.name).toEqual(expected))
        )
      }
    })
  })

// The daily chart reads 6 of the 7 days these rows span: for that share a Seq Scan is the cheaper plan, and the
// planner is right to take it.
plans(
  "dashboard queries on requests, with the migrations' indexes",
  [],
  (test) => test.name === "dashboard: daily chart, 7 days" ? [] : null
)
