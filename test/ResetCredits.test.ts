import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { Pools } from "../src/Pools.ts"
import type { RecordedRequest } from "./FakeUpstream/Types.ts"
import { cliInProcess, queryBetweenRuns } from "./support/CliInProcess.ts"
import { backends } from "./support/Databases.ts"
import {
  Fake,
  fakeBackendEnv,
  gatewayLayer,
  gatewayUrl,
  rewriteRouting,
  setupPool,
  type TestPool
} from "./support/Gateway.ts"
import { callTool, connectMcp } from "./support/Mcp.ts"
import { send } from "./support/Requests.ts"

const consumePath = "/backend-api/wham/rate-limit-reset-credits/consume"

const consume = (key: string, body: unknown, path = consumePath) =>
  Effect.flatMap(gatewayUrl, (url) =>
    send(`${url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body)
    }))

const consumeCalls = (requests: ReadonlyArray<RecordedRequest>) =>
  requests.filter((request) => request.path === consumePath)

// The account rests at its usage limit for `minutes`, upstream agrees (a full primary window) and it has `credits`
// saved resets, as the usage poll would have learned.
const atLimit = (pool: TestPool, index: number, minutes: number, credits: number) =>
  Effect.gen(function*() {
    const fake = yield* Fake
    const sql = yield* SqlClient.SqlClient
    const account = pool.accounts[index]!
    fake.setRateLimits(account.fake.accountId, { primaryUsedPercent: 100, resetCredits: credits })
    yield* rewriteRouting(
      sql`INSERT INTO account_health (account_id, cooldown_until, cooldown_reason, reset_credits, reset_credits_at)
        VALUES (${account.id}, now() + make_interval(mins => ${minutes}), 'usage_limit', ${credits}, now())
        ON CONFLICT (account_id) DO UPDATE SET cooldown_until = excluded.cooldown_until,
          cooldown_reason = excluded.cooldown_reason, reset_credits = excluded.reset_credits,
          reset_credits_at = excluded.reset_credits_at`
    )
    return account
  })

const healthOf = (accountId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ cooldownUntil: Date | null; resetCredits: number | null }>`
      SELECT cooldown_until, reset_credits FROM account_health WHERE account_id = ${accountId}`).pipe(
      Effect.map((rows) => rows[0])
    )

describe.each(backends)("saved usage-limit resets on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("Codex's redemption is spent on the Pool account that most needs it, ends its rest at once, is audited, and answers its request id again without asking twice", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(3)
        const longest = yield* atLimit(pool, 0, 180, 2)
        yield* atLimit(pool, 1, 20, 1)
        fake.reset()

        const first = yield* consume(pool.key, { redeem_request_id: "3f1c7c1e-codex", credit_id: "someone-else" })
        expect(first.status, first.text).toBe(200)
        expect(JSON.parse(first.text)).toEqual({ code: "reset", windows_reset: 1 })
        const calls = consumeCalls(fake.requests)
        expect(calls.map((call) => call.accountId)).toEqual([longest.fake.accountId])
        // our own id goes upstream, never Codex's, and the credit Codex named is not passed on
        expect(calls[0]!.body).toEqual({ redeem_request_id: expect.stringMatching(/^rdm_[0-9a-f]{16}$/) })
        expect(calls[0]!.headers["authorization"]).toBe(`Bearer ${longest.fake.accessToken}`)
        // the rest ended, and the account's usage was asked again: one saved reset left
        expect(yield* healthOf(longest.id)).toEqual({ cooldownUntil: null, resetCredits: 1 })
        const audit = yield* sql<{ actorKind: string; details: { requestId: string; outcome: string; via: string } }>`
          SELECT actor_kind, details FROM audit_log WHERE action = 'account.redeem_reset' AND target_id = ${longest.id}`
        expect(audit).toEqual([{
          actorKind: "pool_key",
          details: expect.objectContaining({ requestId: "3f1c7c1e-codex", outcome: "reset", via: "codex" })
        }])

        const { token } = yield* Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope: "read" }))
        const metrics = yield* Effect.flatMap(
          gatewayUrl,
          (url) => send(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
        )
        expect(metrics.text).toContain("codex_pooler_reset_redemptions_total{outcome=\"reset\",via=\"codex\"} 1")

        // the same request id again, on the other path Codex may use: the first answer, nothing asked of upstream
        fake.reset()
        const again = yield* consume(
          pool.key,
          { redeem_request_id: "3f1c7c1e-codex" },
          "/api/codex/rate-limit-reset-credits/consume"
        )
        expect(JSON.parse(again.text)).toEqual({ code: "reset", windows_reset: 1 })
        expect(consumeCalls(fake.requests)).toEqual([])
      }))

    it.effect("the Pool's list is its accounts' saved resets in one; nothing to reset, or no credit, when no resting account can use one", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        yield* atLimit(pool, 0, 60, 2)
        const other = yield* atLimit(pool, 1, 60, 1)
        fake.reset()
        const url = yield* gatewayUrl
        const listed = yield* send(`${url}/backend-api/wham/rate-limit-reset-credits`, {
          headers: { authorization: `Bearer ${pool.key}` }
        })
        expect(listed.status).toBe(200)
        const list = JSON.parse(listed.text)
        expect(list.available_count).toBe(3)
        expect(list.credits).toHaveLength(3)
        expect(list.credits[0]).toEqual({
          id: expect.any(String),
          reset_type: "codex_rate_limits",
          status: "available",
          granted_at: expect.any(String),
          expires_at: expect.any(String),
          title: expect.any(String)
        })

        // a Pool whose one account is not resting: nothing to reset, and nothing asked of upstream
        const calm = yield* setupPool(1)
        fake.reset()
        expect(JSON.parse((yield* consume(calm.key, { redeem_request_id: "calm-1" })).text))
          .toEqual({ code: "nothing_to_reset", windows_reset: 0 })
        // resting accounts known to have no saved reset left: no credit
        yield* atLimit(calm, 0, 30, 0)
        expect(JSON.parse((yield* consume(calm.key, { redeem_request_id: "calm-2" })).text))
          .toEqual({ code: "no_credit", windows_reset: 0 })
        expect(consumeCalls(fake.requests)).toEqual([])
        // another Pool's key never reaches these accounts
        expect(consumeCalls(fake.requests).some((call) => call.accountId === other.fake.accountId)).toBe(false)
      }))

    it.effect("bad redemptions are refused with a 4xx before anything reaches upstream", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        yield* atLimit(pool, 0, 60, 1)
        fake.reset()
        expect((yield* consume("cpk_nope", { redeem_request_id: "x" })).status).toBe(401)
        for (
          const body of ["not json", "[]", {}, { redeem_request_id: "" }, { redeem_request_id: 7 }, {
            redeem_request_id: "a b"
          }, { redeem_request_id: "x".repeat(129) }]
        ) {
          const answer = yield* consume(pool.key, body)
          expect(answer.status, JSON.stringify(body)).toBe(400)
          expect(JSON.parse(answer.text)).toMatchObject({ error: { code: "invalid_json" } })
        }
        const huge = yield* consume(pool.key, { redeem_request_id: "big", pad: "p".repeat(20_000) })
        expect(huge.status).toBe(413)
        expect(consumeCalls(fake.requests)).toEqual([])
      }))

    it.effect("two redemptions at once for one account give one upstream call; the other is told one is under way", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const account = yield* atLimit(pool, 0, 60, 2)
        const release = yield* Deferred.make<void>()
        fake.reset()
        fake.fault(account.fake.accountId, { kind: "stall", until: Effect.runPromise(Deferred.await(release)) })
        const first = yield* Effect.fork(consume(pool.key, { redeem_request_id: "twin-1" }))
        yield* Effect.promise(() => fake.waitFor(() => consumeCalls(fake.requests).length === 1))
        const second = yield* consume(pool.key, { redeem_request_id: "twin-2" })
        expect(second.status).toBe(409)
        expect(JSON.parse(second.text)).toMatchObject({ error: { code: "redemption_conflict" } })
        yield* Deferred.succeed(release, undefined)
        const done = yield* Fiber.join(first)
        expect(JSON.parse(done.text)).toEqual({ code: "reset", windows_reset: 1 })
        // afterwards the account is back at work: a third asks nothing of upstream
        expect(JSON.parse((yield* consume(pool.key, { redeem_request_id: "twin-3" })).text))
          .toEqual({ code: "nothing_to_reset", windows_reset: 0 })
        expect(consumeCalls(fake.requests)).toHaveLength(1)
      }))

    it.effect("an upstream failure leaves the account resting and is a 502; the same request id then redeems once", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const account = yield* atLimit(pool, 0, 60, 1)
        fake.reset()
        fake.fault(account.fake.accountId, { kind: "http_500", onResetCredits: true })
        const failed = yield* consume(pool.key, { redeem_request_id: "retry-me" })
        expect(failed.status).toBe(502)
        expect((yield* healthOf(account.id))?.cooldownUntil).not.toBeNull()
        const retried = yield* consume(pool.key, { redeem_request_id: "retry-me" })
        expect(JSON.parse(retried.text)).toEqual({ code: "reset", windows_reset: 1 })
        // both attempts carried the same upstream id: upstream could never have redeemed twice
        const ids = consumeCalls(fake.requests).map((call) =>
          (call.body as { redeem_request_id: string }).redeem_request_id
        )
        expect(ids).toHaveLength(2)
        expect(ids[0]).toBe(ids[1])
      }))

    it.scoped("an operator redeems one account's saved reset through MCP, only when it is at its limit", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const account = pool.accounts[0]!
        const { token } = yield* Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope: "admin" }))
        const client = yield* connectMcp(token)
        fake.reset()
        const early = yield* callTool(client, "redeem_reset_credit", { accountId: account.id })
        expect(early.isError).toBe(true)
        expect(early.text).toContain("is not resting at its usage limit")
        // a request id outside its bound, or an unknown argument, is a tool error before anything happens
        for (const args of [{ accountId: account.id, requestId: "a b" }, { accountId: account.id, credit: "x" }]) {
          const bad = yield* callTool(client, "redeem_reset_credit", args)
          expect(bad.isError).toBe(true)
          expect(bad.text).toContain("invalid arguments")
        }
        yield* atLimit(pool, 0, 60, 1)
        const redeemed = yield* callTool(client, "redeem_reset_credit", { accountId: account.id, requestId: "op-1" })
        expect(redeemed.isError, redeemed.text).toBe(false)
        expect(redeemed.structured).toMatchObject({
          redemption: { requestId: "op-1", accountId: account.id, code: "reset", windowsReset: 1, replayed: false },
          account: { id: account.id, cooldown: null, resetCredits: 0 }
        })
        const replay = yield* callTool(client, "redeem_reset_credit", { accountId: account.id, requestId: "op-1" })
        expect(replay.structured).toMatchObject({ redemption: { replayed: true, code: "reset" } })
        expect(consumeCalls(fake.requests)).toHaveLength(1)
      }))
  })
})

describe.each(backends)("a Pool's automatic redemption on %s", (backend) => {
  layer(gatewayLayer(backend, { CODEX_POOLER_USAGE_POLL_SECONDS: "1" }), {
    excludeTestServices: true,
    timeout: 60_000
  })(
    (it) => {
      // excludeTestServices: the clock is the real one
      it.effect("is off by default; on, it redeems once every active account rests at its limit", () =>
        Effect.gen(function*() {
          const fake = yield* Fake
          const pool = yield* setupPool(2)
          const longest = yield* atLimit(pool, 0, 120, 1)
          yield* atLimit(pool, 1, 30, 1)
          fake.reset()
          yield* Effect.sleep("2500 millis")
          expect(consumeCalls(fake.requests)).toEqual([])
          const turnedOn = yield* Effect.flatMap(Pools, (pools) => pools.setFlag(pool.slug, "autoRedeemResets", true))
          expect(turnedOn.autoRedeemResets).toBe(true)
          yield* Effect.promise(() => fake.waitFor(() => consumeCalls(fake.requests).length > 0, 10_000))
          yield* Effect.sleep("2500 millis")
          // one redemption, on the account resting longest; the Pool has capacity again, so no second
          expect(consumeCalls(fake.requests).map((call) => call.accountId)).toEqual([longest.fake.accountId])
          expect((yield* healthOf(longest.id))?.cooldownUntil).toBeNull()
        }))
    }
  )
})

describe.each(backends)("the operator CLI's redemption on %s", (backend) => {
  it.scoped(
    "account redeem-reset spends a saved reset only at the limit; pool set-auto-redeem turns the policy on",
    () =>
      Effect.gen(function*() {
        const { env, fake } = yield* fakeBackendEnv(backend)
        const run = (...args: Array<string>) => cliInProcess(args, env)
        const upstream = fake.addAccount()
        const dir = yield* Effect.acquireRelease(
          Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "redeem-"))),
          (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
        )
        const file = path.join(dir, "auth.json")
        yield* Effect.promise(() => fs.writeFile(file, JSON.stringify(fake.authJson(upstream.accountId))))
        expect((yield* run("pool", "create", "team")).code).toBe(0)
        const imported = JSON.parse((yield* run("account", "import", "--pool", "team", file, "--json")).stdout)
        const accountId: string = imported.account.id

        const early = yield* run("account", "redeem-reset", accountId)
        expect(early.code).toBe(1)
        expect(early.stderr).toBe(
          `codex-pooler: account ${accountId} is not resting at its usage limit: there is nothing to reset\n`
        )
        expect(consumeCalls(fake.requests)).toEqual([])

        fake.setRateLimits(upstream.accountId, { primaryUsedPercent: 100, secondaryUsedPercent: 100, resetCredits: 1 })
        yield* queryBetweenRuns(env, (sql) =>
          sql`INSERT INTO account_health (account_id, cooldown_until, cooldown_reason)
          VALUES (${accountId}, now() + interval '2 hours', 'usage_limit')`)
        const redeemed = yield* run("account", "redeem-reset", accountId, "--request-id", "cli-1", "--json")
        expect(redeemed.code, redeemed.stderr).toBe(0)
        expect(JSON.parse(redeemed.stdout)).toEqual({
          requestId: "cli-1",
          accountId,
          code: "reset",
          windowsReset: 2,
          replayed: false
        })
        const again = yield* run("account", "redeem-reset", accountId, "--request-id", "cli-1")
        expect(again.stdout).toBe(
          `already redeemed a saved reset for account ${accountId}: reset, 2 window(s) reset (request cli-1)\n`
        )
        expect(consumeCalls(fake.requests)).toHaveLength(1)
        const [state] = yield* queryBetweenRuns(env, (sql) =>
          sql<{ cooldownUntil: Date | null; actorKind: string }>`
          SELECT h.cooldown_until, (SELECT actor_kind FROM audit_log WHERE action = 'account.redeem_reset') AS actor_kind
          FROM account_health h WHERE h.account_id = ${accountId}`)
        expect(state).toEqual({ cooldownUntil: null, actorKind: "cli" })

        expect((yield* run("pool", "set-auto-redeem", "team", "on")).stdout)
          .toBe("pool team now redeems a saved reset by itself when every active account is at its limit\n")
        expect(JSON.parse((yield* run("pool", "list", "--json")).stdout)).toMatchObject([{ autoRedeemResets: true }])
        expect((yield* run("pool", "set-auto-redeem", "team", "maybe")).code).toBe(2)
      }),
    { timeout: 60_000 }
  )
})
