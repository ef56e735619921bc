import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { Accounts } from "../src/Accounts.ts"
import { Pools } from "../src/Pools.ts"
import { backends } from "./support/Databases.ts"
import { Fake, firstInLine, gatewayLayer, postResponses, setupPool, sharedPostgres } from "./support/Gateway.ts"
import { healthRow } from "./support/Rows.ts"

// Polls run in the background; wait (bounded) until what they wrote is there.
const eventually = <A>(read: Effect.Effect<A, unknown, SqlClient.SqlClient>, until: (value: A) => boolean) =>
  read.pipe(
    Effect.filterOrFail(until),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("15 seconds"))),
    Effect.orDie
  )

const usagePolls = <R extends { readonly path: string; readonly accountId?: string }>(
  fake: { readonly requests: ReadonlyArray<R> },
  accountId: string
) => fake.requests.filter((request) => request.path === "/backend-api/wham/usage" && request.accountId === accountId)

describe.each(backends)("usage poll on %s", (backend) => {
  layer(gatewayLayer(backend, { CODEX_POOLER_USAGE_POLL_SECONDS: "1" }), {
    excludeTestServices: true,
    timeout: 60_000
  })((it) => {
    it.effect("an account resting at its usage limit is asked again, and a reset ends its rest early", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(2)
        const [a, b] = [pool.accounts[0]!, pool.accounts[1]!]
        // A is at its limit upstream: whether a request or a poll finds out first, A rests and B serves.
        fake.setRateLimits(a.fake.accountId, { primaryUsedPercent: 100, primaryResetAfterSeconds: 3600 })
        fake.fault(a.fake.accountId, { kind: "usage_limit", resetsInSeconds: 1800 })
        yield* firstInLine(pool)
        expect((yield* postResponses(pool.key, "thread-rest")).status).toBe(200)
        expect(fake.requests.filter((request) => request.path.endsWith("/responses")).at(-1)?.accountId).toEqual(
          b.fake.accountId
        )
        fake.clearFaults(a.fake.accountId)

        // Still at its limit: the poll keeps it resting (until the full window's reset, the longer evidence).
        const polledAt = (yield* healthRow(a.id))?.["usagePolledAt"]
        yield* eventually(
          healthRow(a.id),
          (row) => row?.["usagePolledAt"] instanceof Date && row["usagePolledAt"] !== polledAt
        )
        yield* Effect.sleep("1500 millis")
        const resting = yield* healthRow(a.id)
        expect(resting?.["cooldownReason"]).toEqual("usage_limit")
        expect((resting?.["cooldownUntil"] as Date).getTime()).toBeGreaterThan(Date.now() + 1_700_000)
        expect(usagePolls(fake, a.fake.accountId).length).toBeGreaterThan(0)

        // The limit is reset early upstream: the next poll puts A back to work, and says so in the audit log.
        fake.setRateLimits(a.fake.accountId, { primaryUsedPercent: 2 })
        yield* eventually(healthRow(a.id), (row) => row?.["cooldownUntil"] === null)
        const audited = yield* sql`SELECT actor_kind, actor_id, action, target_id, details FROM audit_log
          WHERE action = 'account.cooldown_ended' AND target_id = ${a.id}`
        expect(audited).toEqual([{
          actorKind: "system",
          actorId: "usage_poll",
          action: "account.cooldown_ended",
          targetId: a.id,
          details: { evidence: "usage_poll" }
        }])
        const [quota] = yield* sql`SELECT used_percent, source FROM account_quota
          WHERE account_id = ${a.id} AND limit_name = 'codex' AND window_kind = 'primary'`
        expect(quota).toEqual({ usedPercent: 2, source: "poll" })

        yield* firstInLine(pool)
        fake.reset()
        expect((yield* postResponses(pool.key, "thread-back")).status).toBe(200)
        expect(
          fake.requests.filter((request) => request.path.endsWith("/responses")).map((request) => request.accountId)
        )
          .toEqual([a.fake.accountId])
      }))

    it.effect("an account found at its limit rests before a request hits it; credits carry an account past a full window", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(3)
        const [a, b, c] = [pool.accounts[0]!, pool.accounts[1]!, pool.accounts[2]!]
        fake.setRateLimits(a.fake.accountId, { secondaryUsedPercent: 100, secondaryResetAfterSeconds: 7200 })
        fake.setRateLimits(c.fake.accountId, { primaryUsedPercent: 100, hasCredits: true, balance: "12.5" })
        const rested = yield* eventually(healthRow(a.id), (row) => row?.["cooldownReason"] === "usage_limit")
        // It rests until the full (secondary) window resets.
        expect(Math.abs((rested?.["cooldownUntil"] as Date).getTime() - (Date.now() + 7_200_000))).toBeLessThan(60_000)
        yield* eventually(healthRow(c.id), (row) => row?.["usagePolledAt"] instanceof Date)
        yield* Effect.sleep("1500 millis")
        expect((yield* healthRow(c.id))?.["cooldownUntil"] ?? null).toBeNull()

        // A is never tried: every request lands on B or C.
        fake.reset()
        for (const thread of ["one", "two", "three", "four"]) {
          expect((yield* postResponses(pool.key, `thread-${thread}`)).status).toBe(200)
        }
        const served = new Set(
          fake.requests.filter((request) => request.path.endsWith("/responses")).map((request) => request.accountId)
        )
        expect(served).toEqual(new Set([b.fake.accountId, c.fake.accountId]))
      }))

    it.effect("a poll refused with 401 refreshes the account's token and asks again", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(1)
        const a = pool.accounts[0]!
        const primary =
          sql`SELECT used_percent FROM account_quota WHERE account_id = ${a.id} AND window_kind = 'primary'`
        expect(yield* eventually(primary, (rows) => rows.length > 0)).toEqual([{ usedPercent: 12.5 }])
        const refreshes = fake.refreshCalls.length
        const polls = usagePolls(fake, a.fake.accountId).length
        fake.fault(a.fake.accountId, { kind: "unauthorized", onUsage: true })
        fake.setRateLimits(a.fake.accountId, { primaryUsedPercent: 37 })
        yield* eventually(primary, (rows) => rows[0]?.["usedPercent"] === 37)
        expect(fake.refreshCalls.length).toBe(refreshes + 1)
        expect(usagePolls(fake, a.fake.accountId).slice(polls, polls + 2).map((request) => request.status)).toEqual([
          401,
          200
        ])
        expect(yield* sql`SELECT status FROM accounts WHERE id = ${a.id}`).toEqual([{ status: "active" }])
      }))
  })
})

if (backends.includes("postgres")) {
  describe("usage poll across two gateway instances on one PostgreSQL", () => {
    it.scopedLive("each account is asked once per interval, whichever instance asks", () =>
      Effect.gen(function*() {
        const { fake, instance, manage } = yield* sharedPostgres({ CODEX_POOLER_USAGE_POLL_SECONDS: "1" })
        const accounts = [fake.addAccount(), fake.addAccount(), fake.addAccount()]
        yield* manage(Effect.gen(function*() {
          yield* (yield* Pools).create({ slug: "polled" })
          for (const account of accounts) {
            yield* (yield* Accounts).importAuthJson("polled", JSON.stringify(fake.authJson(account.accountId)))
          }
        }))
        yield* instance
        yield* instance
        yield* Effect.sleep("4 seconds")

        // Each instance alone would ask about every account every second; together they still ask about once a second
        // (claims are a second apart in the database; arrivals here may drift by the machine's load, not by 900 ms).
        for (const account of accounts) {
          const times = usagePolls(fake, account.accountId).map((request) => request.at)
          expect(times.length).toBeGreaterThanOrEqual(2)
          expect(times.length).toBeLessThanOrEqual(5)
          const gaps = times.slice(1).map((at, index) => at - times[index]!)
          expect(Math.min(...gaps)).toBeGreaterThan(300)
        }
      }), { timeout: 60_000 })
  })
}
