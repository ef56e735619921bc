import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Accounts } from "../src/Accounts.ts"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { Pools } from "../src/Pools.ts"
import { backends } from "./support/Databases.ts"
import {
  Fake,
  firstInLine,
  gatewayLayer,
  gatewayUrl,
  postResponses,
  setupPool,
  sharedPostgres
} from "./support/Gateway.ts"
import { send } from "./support/Requests.ts"
import { eventually, healthRow } from "./support/Rows.ts"

// Polls run in the background: the tests wait until what a poll wrote is there.
const timeOf = (row: Readonly<Record<string, unknown>> | undefined, column: string) => {
  const value = row?.[column]
  return value instanceof Date ? value.getTime() : undefined
}

// The next poll of an account claimed after `row` was read (the claim is the database's, so its time is too).
const nextClaim = (accountId: string, row: Readonly<Record<string, unknown>> | undefined) =>
  Effect.map(
    eventually(healthRow(accountId), (next) => {
      const claimed = timeOf(next, "usagePolledAt")
      return claimed !== undefined && claimed !== timeOf(row, "usagePolledAt")
    }),
    (next) => timeOf(next, "usagePolledAt") ?? 0
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

        // Still at its limit: the poll keeps it resting (until the full window's reset, the longer evidence). A poll
        // claimed from now on is waited for until its answer has been taken in: the rest it writes comes after its claim.
        const claimedAt = yield* nextClaim(a.id, yield* healthRow(a.id))
        const resting = yield* eventually(healthRow(a.id), (row) => (timeOf(row, "lastFailureAt") ?? 0) > claimedAt)
        expect(resting?.["cooldownReason"]).toEqual("usage_limit")
        expect((resting?.["cooldownUntil"] as Date).getTime()).toBeGreaterThan(Date.now() + 1_700_000)
        expect(usagePolls(fake, a.fake.accountId).length).toBeGreaterThan(0)

        // The limit is reset early upstream: the next poll puts A back to work, and says so in the audit log.
        fake.setRateLimits(a.fake.accountId, { primaryUsedPercent: 2 })
        yield* eventually(healthRow(a.id), (row) => row?.["cooldownUntil"] === null)
        // The audit entry follows the rest's end.
        const audited = yield* eventually(
          sql`SELECT actor_kind, actor_id, action, target_id, details FROM audit_log
          WHERE action = 'account.cooldown_ended' AND target_id = ${a.id}`,
          (rows) => rows.length > 0
        )
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
        // C's first poll, then its next: rounds run one after another, so by the next claim the first one's answer has
        // been taken in.
        const first = yield* eventually(healthRow(c.id), (row) => row?.["usagePolledAt"] instanceof Date)
        yield* nextClaim(c.id, first)
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

    it.effect("each account's saved reset credits are learned from its usage and shown with it, per account and pooled", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const [a, b] = [pool.accounts[0]!, pool.accounts[1]!]
        fake.setRateLimits(a.fake.accountId, { resetCredits: 2 })
        fake.setRateLimits(b.fake.accountId, { resetCredits: 1 })
        const credits = (id: string) =>
          Effect.map(
            Effect.flatMap(Accounts, (accounts) => accounts.list),
            (all) => all.find((account) => account.id === id)?.resetCredits
          )
        yield* eventually(credits(a.id), (count) => count === 2)
        yield* eventually(credits(b.id), (count) => count === 1)
        // a later answer replaces what an earlier one said
        fake.setRateLimits(a.fake.accountId, { resetCredits: 0 })
        yield* eventually(credits(a.id), (count) => count === 0)
        const { token } = yield* (yield* OperatorTokens).create({ scope: "read" })
        const scrape = (yield* Effect.flatMap(gatewayUrl, (url) =>
          send(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } }))).text
        expect(scrape).toContain(`codex_pooler_account_reset_credits{account="${b.id}"} 1`)
        expect(scrape).toContain(`codex_pooler_pool_reset_credits{pool="${pool.slug}"} 1`)
      }))

    it.effect("a poll refused with 401 refreshes the account's token and asks again", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(1)
        const a = pool.accounts[0]!
        const primary =
          sql`SELECT used_percent FROM account_quota WHERE account_id = ${a.id} AND window_kind = 'primary'`
        // the usage endpoint speaks whole percents (12.5 % reads 13)
        expect(yield* eventually(primary, (rows) => rows.length > 0)).toEqual([{ usedPercent: 13 }])
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
        const ids = yield* manage(Effect.gen(function*() {
          yield* (yield* Pools).create({ slug: "polled" })
          return yield* Effect.forEach(accounts, (account) =>
            Effect.map(
              Effect.flatMap(
                Accounts,
                (all) => all.importAuthJson("polled", JSON.stringify(fake.authJson(account.accountId)))
              ),
              (imported) => imported.account.id
            ))
        }))
        // Every claim as the database makes it, whichever instance makes it: the time it writes is the database's.
        yield* manage(Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.all([
            sql`CREATE TABLE poll_claims (account_id text NOT NULL, claimed_at timestamptz NOT NULL)`,
            sql.unsafe(`CREATE FUNCTION log_poll_claim() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                IF NEW.usage_polled_at IS NOT NULL
                  AND (TG_OP = 'INSERT' OR NEW.usage_polled_at IS DISTINCT FROM OLD.usage_polled_at) THEN
                  INSERT INTO poll_claims VALUES (NEW.account_id, NEW.usage_polled_at);
                END IF;
                RETURN NULL;
              END $$`),
            sql`CREATE TRIGGER log_poll_claim AFTER INSERT OR UPDATE ON account_health
              FOR EACH ROW EXECUTE FUNCTION log_poll_claim()`
          ], { discard: true })))
        yield* instance
        yield* instance
        // Each instance alone would ask about every account every second; together they still ask once per claim, and
        // claims are a second apart in the database's time, however the machine's load spreads the asks' arrivals.
        yield* Effect.promise(() =>
          fake.waitFor(() => accounts.every((account) => usagePolls(fake, account.accountId).length >= 2), 30_000)
        )
        const asked = accounts.map((account) => usagePolls(fake, account.accountId).length)
        const claims = yield* manage(
          Effect.flatMap(SqlClient.SqlClient, (sql) =>
            sql`SELECT account_id, claimed_at FROM poll_claims ORDER BY claimed_at`)
        )
        for (const [index, id] of ids.entries()) {
          const times = claims.filter((claim) =>
            claim["accountId"] === id
          ).map((claim) => timeOf(claim, "claimedAt") ?? 0)
          expect(asked[index]).toBeGreaterThanOrEqual(2)
          expect(asked[index]).toBeLessThanOrEqual(times.length)
          const gaps = times.slice(1).map((at, gap) =>
            at - times[gap]!
          )
          expect(Math.min(...gaps)).toBeGreaterThanOrEqual(999)
        }
      }), { timeout: 60_000 })
  })
}
