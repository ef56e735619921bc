import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Accounts } from "../src/Accounts.ts"
import { codexAuthJson } from "../src/Domain/PoolSignIn.ts"
import { backends } from "./support/Databases.ts"
import {
  Fake,
  firstInLine,
  gatewayLayer,
  gatewayUrl,
  postResponses,
  rewriteRouting,
  setupPool
} from "./support/Gateway.ts"
import { send } from "./support/Requests.ts"

// Codex's backend client reads usage from {chatgpt_base_url}/wham/usage (or /api/codex/usage when the base has no
// /backend-api); the gateway answers there for a Pool key with the Pool's view.
const usagePaths = ["/backend-api/wham/usage", "/api/codex/usage"] as const

const askUsage = (key: string, path: (typeof usagePaths)[number] = usagePaths[0]) =>
  Effect.flatMap(
    gatewayUrl,
    (url) => send(`${url}${path}`, { headers: { authorization: `Bearer ${key}`, accept: "application/json" } })
  )

const usageAsks = (requests: ReadonlyArray<{ readonly path: string; readonly accountId?: string }>) =>
  requests.filter((request) => request.path === "/backend-api/wham/usage").map((request) => request.accountId)

describe.each(backends)("the Pool's usage for Codex on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("is the usage of the account a new request would get, in Codex's shape, without that account's identity", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const first = pool.accounts[0]!
        fake.setRateLimits(first.fake.accountId, { primaryUsedPercent: 40, resetCredits: 3 })
        yield* firstInLine(pool)
        fake.reset()
        for (const path of usagePaths) {
          const answer = yield* askUsage(pool.key, path)
          expect(answer.status).toBe(200)
          const usage = JSON.parse(answer.text)
          expect(usage).toMatchObject({
            plan_type: expect.any(String),
            rate_limit: { allowed: true, limit_reached: false, primary_window: { used_percent: 40 } },
            credits: { has_credits: expect.any(Boolean), unlimited: expect.any(Boolean) }
          })
          for (const identity of ["user_id", "account_id", "email"]) expect(usage).not.toHaveProperty(identity)
          expect(answer.text).not.toContain(first.fake.accountId)
        }
        expect(usageAsks(fake.requests)).toEqual([first.fake.accountId, first.fake.accountId])
        // what the answer said is kept, as a poll's would be
        const listed = yield* Effect.flatMap(Accounts, (accounts) => accounts.list)
        expect(listed.find((account) => account.id === first.id)?.resetCredits).toBe(3)
        expect(
          fake.requests.every((request) => request.headers["authorization"] === `Bearer ${first.fake.accessToken}`)
        )
          .toBe(true)
        // asking moved no one's turn: the next request still goes to the first account
        fake.reset()
        expect((yield* postResponses(pool.key, `thread-${Math.random()}`)).status).toBe(200)
        expect(fake.requests.map((request) => request.accountId)).toEqual([first.fake.accountId])
      }))

    it.effect("when every account rests at its limit, is the one whose limit resets first", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(2)
        const [late, soon] = [pool.accounts[0]!, pool.accounts[1]!]
        for (const account of [late, soon]) fake.setRateLimits(account.fake.accountId, { primaryUsedPercent: 100 })
        yield* rewriteRouting(Effect.all([
          sql`INSERT INTO account_health (account_id, cooldown_until, cooldown_reason)
            VALUES (${late.id}, now() + interval '3 hours', 'usage_limit')`,
          sql`INSERT INTO account_health (account_id, cooldown_until, cooldown_reason)
            VALUES (${soon.id}, now() + interval '20 minutes', 'usage_limit')`
        ]))
        fake.reset()
        const answer = yield* askUsage(pool.key)
        expect(answer.status).toBe(200)
        expect(JSON.parse(answer.text)).toMatchObject({ rate_limit: { allowed: false, limit_reached: true } })
        expect(usageAsks(fake.requests)).toEqual([soon.fake.accountId])
      }))

    it.effect("Codex's sign-in made from a Pool key (key auth-json) is that key; any other signed-in token is refused", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const now = Math.floor(Date.now() / 1000)
        fake.reset()
        expect((yield* askUsage(codexAuthJson(pool.key, now).tokens.access_token)).status).toBe(200)
        // a sign-in token naming a key that does not exist, and a ChatGPT account's own token
        const forged = codexAuthJson(`cpk_${"0".repeat(16)}_${"x".repeat(43)}`, now).tokens.access_token
        expect((yield* askUsage(forged)).status).toBe(401)
        expect((yield* askUsage(pool.accounts[0]!.fake.accessToken)).status).toBe(401)
        // tokens that only look like one: a payload that is no JSON, a claim that is no key, an oversized payload
        const garbage = [
          "a.%%%.b",
          `x.${Buffer.from(JSON.stringify({ codex_pooler_key: 42 })).toString("base64url")}.y`,
          `x.${
            Buffer.from(JSON.stringify({ codex_pooler_key: pool.key, pad: "p".repeat(9000) })).toString("base64url")
          }.y`
        ]
        for (const token of garbage) expect((yield* askUsage(token)).status).toBe(401)
        expect(usageAsks(fake.requests)).toHaveLength(1)
      }))

    // Codex signed in asks which workspace its account lives in before anything else (codex-protocol.md §10.6): exactly
    // one entry names the sign-in's account, with no residency constraint. (Codex then requires that base to be
    // HTTPS, which a loopback test cannot give it.)
    it.effect("workspace discovery names the Pool's stand-in account, unconstrained, for a Pool key only", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const url = yield* gatewayUrl
        const signIn = codexAuthJson(pool.key, Math.floor(Date.now() / 1000))
        const check = (token: string) =>
          send(`${url}/backend-api/wham/accounts/check`, { headers: { authorization: `Bearer ${token}` } })
        const answer = yield* check(signIn.tokens.access_token)
        expect(answer.status).toBe(200)
        const body = JSON.parse(answer.text)
        expect(body.accounts.filter((entry: { id: string }) => entry.id === signIn.tokens.account_id)).toEqual([
          expect.objectContaining({
            workspace_backend_origin: "NO_CONSTRAINT",
            account_routing_override: "NO_CONSTRAINT"
          })
        ])
        expect(body.default_account_id).toBe(signIn.tokens.account_id)
        expect((yield* check("cpk_not_a_key")).status).toBe(401)
      }))

    it.effect("needs a Pool key, reaching no one without; a Pool with no account to ask is 503", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(1)
        fake.reset()
        expect((yield* askUsage("cpk_not_a_key")).status).toBe(401)
        expect(fake.requests).toHaveLength(0)
        yield* rewriteRouting(sql`UPDATE accounts SET status = 'paused' WHERE id = ${pool.accounts[0]!.id}`)
        const none = yield* askUsage(pool.key)
        expect(none.status).toBe(503)
        expect(JSON.parse(none.text).error.code).toBe("no_account_available")
        expect(fake.requests).toHaveLength(0)
      }))
  })
})
