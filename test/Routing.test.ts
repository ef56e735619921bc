import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { Accounts } from "../src/Accounts.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { Pools } from "../src/Pools.ts"
import { codexExec } from "./support/Codex.ts"
import { backends } from "./support/Databases.ts"
import {
  Fake,
  firstInLine,
  gatewayLayer,
  gatewayUrl,
  postResponses,
  reloadRouting,
  rewriteRouting,
  setupPool,
  sharedPostgres,
  type TestPool,
  turnInLine
} from "./support/Gateway.ts"
import { codexHeaders, responsesBody, send, sseEvents } from "./support/Requests.ts"
import { attemptRows, elapse, eventually, healthRow, settledRow } from "./support/Rows.ts"

describe.each(backends)("routing on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("a usage-limit 429 moves the request to the next account and rests the first until its reset", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const [a, b] = [pool.accounts[0]!, pool.accounts[1]!]
        yield* firstInLine(pool)
        fake.reset()
        fake.fault(a.fake.accountId, { kind: "usage_limit", resetsInSeconds: 1800 })
        const answer = yield* postResponses(pool.key, "thread-limit")
        expect(answer.status).toBe(200)
        expect(sseEvents(answer.text).at(-1)?.type).toEqual("response.completed")
        expect(fake.requests.map((request) => [request.accountId, request.status ?? 200])).toEqual([
          [a.fake.accountId, 429],
          [b.fake.accountId, 200]
        ])
        const requestId = answer.headers.get("x-codex-pooler-request-id") ?? ""
        expect(yield* settledRow(requestId)).toMatchObject({ status: "succeeded", accountId: b.id, attempts: 2 })
        expect(yield* attemptRows(requestId)).toMatchObject([
          { attempt: 1, accountId: a.id, httpStatus: 429, errorCode: "usage_limit_reached", outcome: "retried" },
          { attempt: 2, accountId: b.id, httpStatus: 200, outcome: "succeeded" }
        ])
        const cooldown = yield* healthRow(a.id)
        const until = cooldown?.["cooldownUntil"]
        expect(until instanceof Date ? Math.abs(until.getTime() - (Date.now() + 1_800_000)) : Infinity).toBeLessThan(
          60_000
        )
        expect(cooldown?.["cooldownReason"]).toEqual("usage_limit")

        // A is now least recently used again but resting: a new thread still lands on B.
        expect(yield* turnInLine(pool, "thread-other")).toEqual({ status: 200, accounts: [b.fake.accountId] })
      }))

    it.effect("a rest ends by itself at the reset its usage limit named", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const a = pool.accounts[0]!
        yield* firstInLine(pool)
        fake.reset()
        const before = Date.now()
        fake.fault(a.fake.accountId, { kind: "usage_limit", resetsInSeconds: 600 })
        expect((yield* postResponses(pool.key, "thread-short-rest")).status).toBe(200)
        // The rest ends at the reset named (resets_at is whole seconds).
        const until = ((yield* healthRow(a.id))?.["cooldownUntil"] as Date).getTime()
        expect(until).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000)
        expect(until).toBeLessThanOrEqual(Date.now() + 600_000)
        yield* firstInLine(pool)
        fake.reset()
        expect((yield* postResponses(pool.key, "thread-resting")).status).toBe(200)
        expect(fake.requests.map((request) => request.accountId)).not.toContain(a.fake.accountId)

        // The reset comes: nothing but time has changed, and A serves again.
        yield* elapse(a.id, 601)
        expect(yield* turnInLine(pool, "thread-rested")).toEqual({ status: 200, accounts: [a.fake.accountId] })
      }))

    it.effect("an account whose plan lacks Codex fails over and sits out; it is not asked again", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const [a, b] = [pool.accounts[0]!, pool.accounts[1]!]
        yield* firstInLine(pool)
        fake.reset()
        fake.fault(a.fake.accountId, { kind: "usage_not_included" })
        expect((yield* postResponses(pool.key, "thread-plan")).status).toBe(200)
        expect(fake.requests.map((request) => [request.accountId, request.status ?? 200])).toEqual([
          [a.fake.accountId, 429],
          [b.fake.accountId, 200]
        ])
        const rest = yield* healthRow(a.id)
        expect(rest?.["cooldownReason"]).toEqual("usage_not_included")
        expect((rest?.["cooldownUntil"] as Date).getTime()).toBeGreaterThan(Date.now() + 5 * 3600 * 1000)

        expect(yield* turnInLine(pool, "thread-plan-2")).toEqual({ status: 200, accounts: [b.fake.accountId] })

        // With B paused too, nothing can serve: 503 with a clear code, not a usage-limit 429 (no reset to wait for).
        yield* (yield* Accounts).pause(b.id)
        const none = yield* postResponses(pool.key, "thread-plan-3")
        expect([none.status, JSON.parse(none.text).error.code]).toEqual([503, "no_account_available"])
      }))

    it.effect("a short-term rate limit with Retry-After fails over and rests the account that long", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const [a, b] = [pool.accounts[0]!, pool.accounts[1]!]
        yield* firstInLine(pool)
        fake.reset()
        fake.fault(a.fake.accountId, { kind: "retryable_429", retryAfterSeconds: 120 })
        const before = Date.now()
        expect((yield* postResponses(pool.key, "thread-slow-down")).status).toBe(200)
        expect(fake.requests.map((request) => [request.accountId, request.status ?? 200])).toEqual([
          [a.fake.accountId, 429],
          [b.fake.accountId, 200]
        ])
        const rest = yield* healthRow(a.id)
        expect(rest?.["cooldownReason"]).toEqual("rate_limited")
        const until = (rest?.["cooldownUntil"] as Date).getTime()
        expect(until).toBeGreaterThanOrEqual(before + 120_000 - 50)
        expect(until).toBeLessThanOrEqual(Date.now() + 120_000 + 50)

        expect(yield* turnInLine(pool, "thread-slow-down-2")).toEqual({ status: 200, accounts: [b.fake.accountId] })
        yield* elapse(a.id, 121)
        expect(yield* turnInLine(pool, "thread-slow-down-3")).toEqual({ status: 200, accounts: [a.fake.accountId] })
      }))

    it.effect("a response whose headers show a full window rests its account at once, unless credits carry it on", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const [a, b] = [pool.accounts[0]!, pool.accounts[1]!]

        // A has credits: its full window does not stop it.
        fake.setRateLimits(a.fake.accountId, {
          primaryUsedPercent: 100,
          primaryResetAfterSeconds: 3600,
          hasCredits: true
        })
        expect(yield* turnInLine(pool, "thread-credits")).toEqual({ status: 200, accounts: [a.fake.accountId] })
        expect((yield* healthRow(a.id))?.["cooldownUntil"] ?? null).toBeNull()

        // Without credits the same answer rests A until that window resets; the next request goes to B directly.
        fake.setRateLimits(a.fake.accountId, { hasCredits: false })
        yield* firstInLine(pool)
        expect((yield* postResponses(pool.key, "thread-full")).status).toBe(200)
        const resting = yield* eventually(healthRow(a.id), (row) => row?.["cooldownUntil"] instanceof Date)
        expect(resting?.["cooldownReason"]).toEqual("usage_limit")
        expect(Math.abs((resting?.["cooldownUntil"] as Date).getTime() - (Date.now() + 3_600_000))).toBeLessThan(60_000)
        expect(yield* turnInLine(pool, "thread-after-full")).toEqual({ status: 200, accounts: [b.fake.accountId] })
      }))

    it.effect("server errors and overload before the first byte fail over; each attempt is recorded", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        for (const fault of [{ kind: "http_500" as const, status: 502 }, { kind: "overloaded" as const }]) {
          const pool = yield* setupPool(2)
          yield* firstInLine(pool)
          fake.reset()
          fake.fault(pool.accounts[0]!.fake.accountId, fault)
          const answer = yield* postResponses(pool.key, `thread-${fault.kind}`)
          expect(answer.status).toBe(200)
          expect(fake.requests.map((request) => request.accountId)).toEqual(
            pool.accounts.map((account) => account.fake.accountId)
          )
          const requestId = answer.headers.get("x-codex-pooler-request-id") ?? ""
          yield* settledRow(requestId)
          const attempts = yield* attemptRows(requestId)
          expect(attempts.map((row) => row["outcome"])).toEqual(["retried", "succeeded"])
        }
      }))

    it.effect("an upstream that drops the connection before answering fails over too", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        yield* firstInLine(pool)
        fake.reset()
        fake.fault(pool.accounts[0]!.fake.accountId, "connection_reset")
        const answer = yield* postResponses(pool.key, "thread-reset")
        expect(answer.status).toBe(200)
        const requestId = answer.headers.get("x-codex-pooler-request-id") ?? ""
        yield* settledRow(requestId)
        const attempts = yield* attemptRows(requestId)
        expect(attempts.map((row) => [row["accountId"], row["outcome"]])).toEqual([
          [pool.accounts[0]!.id, "retried"],
          [pool.accounts[1]!.id, "succeeded"]
        ])
        expect(String(attempts[0]?.["errorCode"])).toMatch(/^upstream_/)
      }))

    it.effect("a failure after the first byte is never replayed on another account", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        yield* firstInLine(pool)
        fake.reset()
        fake.setEventDelay(10)
        fake.fault(pool.accounts[0]!.fake.accountId, { kind: "disconnect_mid_stream", afterEvents: 2 })
        const answer = yield* postResponses(pool.key, "thread-mid")
        fake.setEventDelay(0)
        expect(sseEvents(answer.text).at(-1)).toMatchObject({ type: "response.failed" })
        expect(fake.requests).toHaveLength(1)
      }))

    it.effect("strategies: least recently used takes accounts in turn; quota_first the most headroom; rendezvous a stable spread", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const ids = (pool: TestPool) => new Map(pool.accounts.map((account) => [account.fake.accountId, account.id]))

        const lru = yield* setupPool(3)
        fake.reset()
        for (const thread of ["lru-1", "lru-2", "lru-3"]) yield* postResponses(lru.key, thread)
        expect(new Set(fake.requests.map((request) => request.accountId)).size).toBe(3)

        const quota = yield* setupPool(3, {}, "quota_first")
        const used = [90, 10, 50]
        yield* rewriteRouting(
          Effect.forEach(
            quota.accounts.entries(),
            ([index, account]) =>
              sql`INSERT INTO account_quota (account_id, window_kind, used_percent, window_minutes, resets_at, observed_at, source)
            VALUES (${account.id}, 'primary', ${used[index] ?? 0}, 300, now() + interval '1 hour', now(), 'headers')`
          )
        )
        fake.reset()
        yield* postResponses(quota.key, "quota-1")
        expect(ids(quota).get(fake.requests[0]?.accountId ?? "")).toEqual(quota.accounts[1]!.id)

        const spread = yield* setupPool(3, {}, "rendezvous")
        const threads = ["r-1", "r-2", "r-3", "r-4", "r-5", "r-6"]
        const expected = threads.map((thread) => {
          const key = createHash("sha256").update(`thread:01a216ab-${thread}`).digest("hex")
          return [...spread.accounts].sort((x, y) =>
            createHash("md5").update(key + x.id).digest("hex") < createHash("md5").update(key + y.id).digest("hex")
              ? -1
              : 1
          )[0]!.id
        })
        fake.reset()
        for (const thread of threads) yield* postResponses(spread.key, `01a216ab-${thread}`)
        expect(fake.requests.map((request) => ids(spread).get(request.accountId ?? ""))).toEqual(expected)
      }))

    it.scoped("every account at its limit: 429 usage_limit_reached with the earliest reset, and Codex shows it", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const [a, b] = [pool.accounts[0]!, pool.accounts[1]!]
        fake.fault(a.fake.accountId, { kind: "usage_limit", resetsInSeconds: 3600 })
        fake.fault(b.fake.accountId, { kind: "usage_limit", resetsInSeconds: 600 })
        yield* postResponses(pool.key, "thread-drain")
        fake.reset()
        const answer = yield* postResponses(pool.key, "thread-after")
        expect(answer.status).toBe(429)
        const body = JSON.parse(answer.text)
        expect(body.error).toMatchObject({ type: "usage_limit_reached", code: "usage_limit_reached" })
        expect(Math.abs(body.error.resets_at - (Date.now() / 1000 + 600))).toBeLessThan(60)
        expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(500)
        expect(fake.requests).toHaveLength(0)

        const run = yield* codexExec({ origin: yield* gatewayUrl, key: pool.key, prompt: "say hi", transport: "http" })
        expect(run.code).toBe(1)
        expect(run.stdout + run.stderr).toMatch(/usage limit/i)
        expect(run.stdout + run.stderr).toMatch(/try again at/i)
        expect(fake.requests).toHaveLength(0)
      }))
  })
})

describe.each(backends)("circuit breaker on %s", (backend) => {
  layer(gatewayLayer(backend, { CODEX_POOLER_CIRCUIT_OPEN_MS: "60000" }), {
    excludeTestServices: true,
    timeout: 60_000
  })(
    (it) => {
      it.effect("failures in a row open an account's circuit; once the time is up one probe closes it again", () =>
        Effect.gen(function*() {
          const fake = yield* Fake
          const sql = yield* SqlClient.SqlClient
          const pool = yield* setupPool(2)
          const [a, b] = [pool.accounts[0]!, pool.accounts[1]!]
          fake.fault(a.fake.accountId, { kind: "http_500" }, 3)
          for (const index of [1, 2, 3]) {
            yield* firstInLine(pool)
            expect((yield* postResponses(pool.key, `circuit-${index}`)).status).toBe(200)
          }
          const [opened] =
            yield* sql`SELECT circuit_state, consecutive_failures FROM account_health WHERE account_id = ${a.id}`
          expect(opened).toEqual({ circuitState: "open", consecutiveFailures: 3 })

          // Open: A is passed over even though it is first in line.
          expect(yield* turnInLine(pool, "circuit-open")).toEqual({ status: 200, accounts: [b.fake.accountId] })

          // Time up: the next request probes A, which now answers, and the circuit closes.
          yield* elapse(a.id, 60)
          expect(yield* turnInLine(pool, "circuit-probe")).toEqual({ status: 200, accounts: [a.fake.accountId] })
          const [closed] =
            yield* sql`SELECT circuit_state, consecutive_failures FROM account_health WHERE account_id = ${a.id}`
          expect(closed).toEqual({ circuitState: "closed", consecutiveFailures: 0 })
        }))
    }
  )
})

// Instances share everything through PostgreSQL; embedded PGlite is one process's database by design.
if (backends.includes("postgres")) {
  describe("two gateway instances on one PostgreSQL", () => {
    it.scopedLive("share cooldowns, session bindings and key limits", () =>
      Effect.gen(function*() {
        const { fake, instance, manage } = yield* sharedPostgres({})
        const [one, two] = [yield* instance, yield* instance]

        const [a, b] = [fake.addAccount(), fake.addAccount()]
        const ids = yield* manage(Effect.gen(function*() {
          yield* (yield* Pools).create({ slug: "shared" })
          const accounts = yield* Accounts
          return yield* Effect.forEach([a, b], (account) =>
            Effect.map(
              accounts.importAuthJson("shared", JSON.stringify(fake.authJson(account.accountId))),
              (imported) => imported.account.id
            ))
        }))
        const key = yield* manage(Effect.map(
          Effect.flatMap(PoolKeys, (keys) => keys.create({ poolSlug: "shared", limits: { requestsPerMinute: 3 } })),
          (created) => created.token
        ))
        // written to the database (last-used times announce nothing), and read back by both instances
        const firstInLine = Effect.zipRight(
          manage(Effect.flatMap(SqlClient.SqlClient, (sql) =>
            Effect.all([
              sql`UPDATE accounts SET last_used_at = NULL WHERE id = ${ids[0] ?? ""}`,
              sql`UPDATE accounts SET last_used_at = now() WHERE id = ${ids[1] ?? ""}`
            ]))),
          Effect.all([reloadRouting(one), reloadRouting(two)])
        )
        const call = (origin: string, thread: string) =>
          send(`${origin}/backend-api/codex/responses`, {
            method: "POST",
            headers: codexHeaders(key, thread),
            body: JSON.stringify(responsesBody())
          })

        // A usage limit seen by one instance rests the account for the other.
        yield* firstInLine
        fake.fault(a.accountId, { kind: "usage_limit", resetsInSeconds: 1800 })
        expect((yield* call(one, "thread-1")).status).toBe(200)
        yield* firstInLine
        fake.reset()
        expect((yield* call(two, "thread-2")).status).toBe(200)
        expect(fake.requests.map((request) => request.accountId)).toEqual([b.accountId])

        // A thread bound on one instance stays on its account on the other.
        fake.reset()
        expect((yield* call(two, "thread-1")).status).toBe(200)
        expect(fake.requests.map((request) => request.accountId)).toEqual([b.accountId])

        // Three requests a minute for the key, counted across both instances: the fourth is refused.
        const fourth = yield* call(one, "thread-3")
        expect([fourth.status, JSON.parse(fourth.text).error.code]).toEqual([429, "key_requests_per_minute"])
      }), { timeout: 90_000 })
  })
}

describe("failover time budget", () => {
  layer(gatewayLayer("pglite", { CODEX_POOLER_FAILOVER_BUDGET_MS: "0" }), {
    excludeTestServices: true,
    timeout: 60_000
  })((it) => {
    it.effect("past the budget, the failed answer is relayed instead of trying another account", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        yield* firstInLine(pool)
        fake.reset()
        fake.fault(pool.accounts[0]!.fake.accountId, { kind: "http_500", status: 502 })
        const answer = yield* postResponses(pool.key, "thread-budget")
        expect(answer.status).toBe(502)
        expect(fake.requests.map((request) => request.accountId)).toEqual([pool.accounts[0]!.fake.accountId])
      }))
  })
})
