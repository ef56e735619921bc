import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { codexAuthJson } from "../src/Domain/PoolSignIn.ts"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { codexAppServer, codexExec, frames, inputTypes, responsesCalls, upgrades } from "./support/Codex.ts"
import { backends } from "./support/Databases.ts"
import {
  Fake,
  firstInLine,
  gatewayLayer,
  gatewayUrl,
  rewriteRouting,
  setupPool,
  type TestPool
} from "./support/Gateway.ts"
import { recordingProxy } from "./support/RecordingProxy.ts"
import { settledRow } from "./support/Rows.ts"

const requestIds = (poolId: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`SELECT id FROM requests WHERE pool_id = ${poolId} ORDER BY started_at`
  )
    .pipe(Effect.map((rows) => rows.map((row) => row["id"])))

// `codex exec "<prompt>"` with the Pool's key against the in-process gateway.
const turn = (pool: TestPool, prompt: string, transport: "http" | "websocket") =>
  Effect.flatMap(gatewayUrl, (origin) => codexExec({ origin, key: pool.key, prompt, transport }))

// Codex CLI 0.169.0 through the gateway, end to end; one gateway and fake backend per database serve every case,
// each on a Pool of its own.
describe.each(backends)("codex exec through the gateway on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.scoped("says hi with the fake's answer, on an account's credentials, and the request is accounted", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        fake.reset()
        fake.setAnswer("Hello from the pooled account")
        const run = yield* turn(pool, "say hi", "http")
        fake.setAnswer("hi")
        expect(run.code, run.stderr).toBe(0)
        expect(run.stdout).toContain("Hello from the pooled account")
        const calls = responsesCalls(fake.requests)
        expect(calls).toHaveLength(1)
        const used = pool.accounts.find((account) => account.fake.accountId === calls[0]?.accountId)
        expect(calls[0]?.headers["authorization"]).toEqual(`Bearer ${used?.fake.accessToken}`)
        expect(calls[0]?.headers["originator"]).toEqual("codex_exec")
        expect(JSON.stringify(calls)).not.toContain(pool.key)
        const row = yield* settledRow(String((yield* requestIds(pool.poolId))[0]))
        expect(row).toMatchObject({
          status: "succeeded",
          route: "responses",
          accountId: used?.id,
          inputTokens: "1234"
        })
      }))

    // Codex 0.169 offers standalone web search (web.run) for every model of its catalog but gpt-5.5 (responses-lite)
    // when the provider is named "OpenAI", as the README's block is; it calls POST {base}/alpha/search.
    it.scoped("runs a web search through the Pool: alpha/search on an account of the Pool, its output back to the model", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        fake.reset()
        const run = yield* Effect.flatMap(
          gatewayUrl,
          (origin) =>
            codexExec({
              origin,
              key: pool.key,
              prompt: "search the web for codex pooler",
              transport: "http",
              model: "gpt-6-sol"
            })
        )
        expect(run.code, run.stderr).toBe(0)
        const searches = fake.requests.filter((request) => request.path === "/backend-api/codex/alpha/search")
        expect(searches).toHaveLength(1)
        expect(searches[0]?.status ?? 200).toBe(200)
        expect(searches[0]?.body).toMatchObject({
          model: "gpt-6-sol",
          commands: { search_query: [{ q: "codex pooler" }] }
        })
        expect(pool.accounts.map((account) => account.fake.accountId)).toContain(searches[0]?.accountId)
        const calls = responsesCalls(fake.requests)
        expect(JSON.stringify(calls.at(-1)?.body)).toContain("Search results for")
        const routes = yield* Effect.flatMap(
          SqlClient.SqlClient,
          (sql) => sql`SELECT route, status FROM requests WHERE pool_id = ${pool.poolId} AND route = 'web_search'`
        )
        expect(routes).toEqual([{ route: "web_search", status: "succeeded" }])
      }))

    // The image tool (image_gen.imagegen) is offered when Codex is also signed in (auth.json): signed in with the
    // Pool key (`key auth-json`), it calls POST {base}/images/generations.
    it.scoped("generates an image through the Pool: images/generations on an account of the Pool", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        fake.reset()
        const run = yield* Effect.flatMap(gatewayUrl, (origin) =>
          codexExec({
            origin,
            key: pool.key,
            prompt: "draw an image of a fox",
            transport: "http",
            model: "gpt-6-sol",
            authJson: codexAuthJson(pool.key, Math.floor(Date.now() / 1000))
          }))
        expect(run.code, run.stderr).toBe(0)
        const images = fake.requests.filter((request) => request.path === "/backend-api/codex/images/generations")
        expect(images).toHaveLength(1)
        expect(images[0]?.body).toMatchObject({ prompt: "a red fox", model: "gpt-image-2" })
        expect(pool.accounts.map((account) => account.fake.accountId)).toContain(images[0]?.accountId)
        expect(JSON.stringify(responsesCalls(fake.requests).at(-1)?.body)).toContain("input_image")
      }))

    // Codex's own usage read (what /status and /usage show; app-server `account/rateLimits/read`) goes to
    // chatgpt_base_url with its sign-in: signed in with the Pool key (`key auth-json`), it reads the Pool's usage.
    it.scoped("reads the Pool's usage through chatgpt_base_url when signed in with the Pool key", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        yield* firstInLine(pool)
        const first = pool.accounts[0]!
        fake.setRateLimits(first.fake.accountId, { primaryUsedPercent: 61, secondaryUsedPercent: 7 })
        fake.reset()
        const [read] = yield* Effect.flatMap(gatewayUrl, (origin) =>
          codexAppServer({
            origin,
            key: pool.key,
            authJson: codexAuthJson(pool.key, Math.floor(Date.now() / 1000)),
            requests: [{ method: "account/rateLimits/read", params: {} }]
          }))
        expect(read).toMatchObject({
          rateLimits: { primary: { usedPercent: 61 }, secondary: { usedPercent: 7 }, planType: expect.any(String) }
        })
        const asked = fake.requests.filter((request) => request.path === "/backend-api/wham/usage")
        expect(asked.map((request) => request.accountId)).toEqual([first.fake.accountId])
        expect(JSON.stringify(fake.requests)).not.toContain(pool.key)
      }))

    // Codex's own redemption of a saved reset (app-server `account/rateLimitResetCredit/consume`, what its usage view
    // offers) goes to chatgpt_base_url with its sign-in: the Pool spends one on its account that is at its limit.
    it.scoped("redeems a saved reset for the Pool through chatgpt_base_url when signed in with the Pool key", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(2)
        const resting = pool.accounts[1]!
        fake.setRateLimits(resting.fake.accountId, { primaryUsedPercent: 100, resetCredits: 1 })
        yield* rewriteRouting(
          sql`INSERT INTO account_health (account_id, cooldown_until, cooldown_reason, reset_credits)
          VALUES (${resting.id}, now() + interval '1 hour', 'usage_limit', 1)`
        )
        fake.reset()
        const [listed, consumed] = yield* Effect.flatMap(gatewayUrl, (origin) =>
          codexAppServer({
            origin,
            key: pool.key,
            authJson: codexAuthJson(pool.key, Math.floor(Date.now() / 1000)),
            requests: [
              { method: "account/rateLimits/read", params: {} },
              {
                method: "account/rateLimitResetCredit/consume",
                params: {
                  creditId: `RateLimitResetCredit_${resting.fake.accountId}_1`,
                  idempotencyKey: "codex-redeem-1"
                }
              }
            ]
          }))
        expect(listed).toMatchObject({ rateLimits: expect.any(Object) })
        expect(consumed).toMatchObject({ outcome: "reset" })
        const spent = fake.requests.filter((request) =>
          request.path === "/backend-api/wham/rate-limit-reset-credits/consume"
        )
        expect(spent.map((request) => request.accountId)).toEqual([resting.fake.accountId])
        expect(JSON.stringify(fake.requests)).not.toContain(pool.key)
      }))

    it.scoped("runs a tool round trip: the tool output goes back on the same account", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        fake.reset()
        const run = yield* turn(pool, "run tool please", "http")
        expect(run.code, run.stderr).toBe(0)
        const calls = responsesCalls(fake.requests)
        expect(calls).toHaveLength(2)
        expect(inputTypes(calls[1]?.body)).toContain("function_call_output")
        expect(JSON.stringify(calls[1]?.body)).toContain("fake-tool")
        expect(calls[1]?.headers["x-codex-turn-state"]).toBeDefined()
        expect(calls[1]?.accountId).toEqual(calls[0]?.accountId)
      }))

    it.scoped("compacts remotely when the context fills up (compaction_trigger) and finishes the turn", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        fake.setUsage({ inputTokens: 262_000, cachedTokens: 0, outputTokens: 50, reasoningTokens: 0 })
        const run = yield* turn(pool, "run tool then answer", "http")
        fake.setUsage({ inputTokens: 1234, cachedTokens: 1000, outputTokens: 5, reasoningTokens: 0 })
        expect(run.code, run.stderr).toBe(0)
        const calls = responsesCalls(fake.requests)
        const triggers = calls.filter((call) => inputTypes(call.body).includes("compaction_trigger"))
        expect(triggers.length).toBeGreaterThanOrEqual(1)
        const after = calls.slice(calls.indexOf(triggers[0]!) + 1)
        expect(after.some((call) => inputTypes(call.body).includes("compaction"))).toBe(true)
      }))

    // The same, with the README's websocket provider: what Codex prefers.
    it.scoped("says hi over one upgrade carrying the account's credentials, with no HTTP fallback", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        fake.setAnswer("Hello over the socket")
        const run = yield* turn(pool, "say hi", "websocket")
        fake.setAnswer("hi")
        expect(run.code, run.stderr).toBe(0)
        expect(run.stdout).toContain("Hello over the socket")
        expect(upgrades(fake.requests)).toHaveLength(1)
        expect(upgrades(fake.requests)[0]?.headers["authorization"]).toEqual(
          `Bearer ${pool.accounts[0]!.fake.accessToken}`
        )
        expect(responsesCalls(fake.requests)).toHaveLength(0)
        expect(frames(fake.requests).length).toBeGreaterThanOrEqual(2)
      }))

    it.scoped("runs a tool round trip over the socket", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        const run = yield* turn(pool, "run tool please", "websocket")
        expect(run.code, run.stderr).toBe(0)
        expect(upgrades(fake.requests)).toHaveLength(1)
        expect(responsesCalls(fake.requests)).toHaveLength(0)
        expect(frames(fake.requests).some((frame) => inputTypes(frame.body).includes("function_call_output"))).toBe(
          true
        )
      }))

    it.scoped("compacts remotely over the socket", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        fake.setUsage({ inputTokens: 262_000, cachedTokens: 0, outputTokens: 50, reasoningTokens: 0 })
        const run = yield* turn(pool, "run tool then answer", "websocket")
        fake.setUsage({ inputTokens: 1234, cachedTokens: 1000, outputTokens: 5, reasoningTokens: 0 })
        expect(run.code, run.stderr).toBe(0)
        expect(upgrades(fake.requests)).toHaveLength(1)
        expect(responsesCalls(fake.requests)).toHaveLength(0)
        const sent = frames(fake.requests)
        const trigger = sent.findIndex((frame) => inputTypes(frame.body).includes("compaction_trigger"))
        expect(trigger).toBeGreaterThanOrEqual(0)
        expect(sent.slice(trigger + 1).some((frame) => inputTypes(frame.body).includes("compaction"))).toBe(true)
      }))

    it.scoped("when upstream refuses websockets the gateway answers 426 and Codex finishes over HTTP", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        fake.fault(pool.accounts[0]!.fake.accountId, "ws_426")
        const run = yield* turn(pool, "say hi", "websocket")
        expect(run.code, run.stderr).toBe(0)
        expect(run.stdout).toContain("hi")
        expect(upgrades(fake.requests).map((request) => request.status)).toEqual([426])
        expect(responsesCalls(fake.requests)).toHaveLength(1)
      }))

    // The account serving a session hits its usage limit mid-turn: the same `codex exec` finishes on another account.
    it.scoped("session rescue over HTTP: the follow-up request fails over to the healthy account before any byte reaches Codex", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        fake.reset()
        for (const account of pool.accounts) {
          fake.fault(account.fake.accountId, { kind: "stall", ms: 1 })
          fake.fault(account.fake.accountId, { kind: "usage_limit", resetsInSeconds: 1800 })
        }
        const run = yield* turn(pool, "run tool please", "http")
        expect(run.code, run.stderr).toBe(0)
        const calls = responsesCalls(fake.requests)
        const [first, limited, rescued] = calls
        expect(limited?.accountId).toEqual(first?.accountId)
        expect(limited?.status).toBe(429)
        expect(rescued?.accountId).not.toEqual(first?.accountId)
        expect(inputTypes(rescued?.body)).toContain("function_call_output")
      }))

    it.scoped("session rescue over websocket: the limit frame is kept from Codex, its socket closes, and it reconnects to the healthy account", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        fake.reset()
        for (const account of pool.accounts) {
          fake.fault(account.fake.accountId, { kind: "stall", ms: 1 }, 2)
          fake.fault(account.fake.accountId, { kind: "usage_limit", resetsInSeconds: 1800 })
        }
        const run = yield* turn(pool, "run tool please", "websocket")
        expect(run.code, run.stderr).toBe(0)
        expect(run.stdout + run.stderr).not.toMatch(/usage limit/i)
        const sockets = upgrades(fake.requests)
        expect(sockets.length).toBeGreaterThanOrEqual(2)
        expect(sockets.at(-1)?.accountId).not.toEqual(sockets[0]?.accountId)
        const last = frames(fake.requests).at(-1)
        expect(last?.accountId).toEqual(sockets.at(-1)?.accountId)
        expect(inputTypes(last?.body)).toContain("function_call_output")
      }))

    // The README's MCP server block, with a recording pass-through between Codex and /mcp.
    it.scoped("Codex's MCP client initializes with the operator token, lists the tools and ends its session", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.setAnswer("hi")
        const { token } = yield* (yield* OperatorTokens).create({ scope: "read" })
        const gateway = yield* gatewayUrl
        const proxy = yield* recordingProxy(gateway)
        const run = yield* codexExec({
          origin: gateway,
          key: pool.key,
          prompt: "say hi",
          transport: "http",
          mcp: { origin: proxy.origin, operatorToken: token }
        })
        expect(run.code, run.stderr).toBe(0)
        // Codex opens the listen stream and lists the tools concurrently: only those two may come in either order.
        const exchanges = proxy.seen.map((
          exchange
        ) => [exchange.httpMethod, exchange.rpcMethod ?? "", exchange.status])
        expect(exchanges.slice(0, 2)).toEqual([["POST", "initialize", 200], [
          "POST",
          "notifications/initialized",
          202
        ]])
        expect(exchanges.slice(2, 4)).toEqual(expect.arrayContaining([["GET", "", 200], ["POST", "tools/list", 200]]))
        expect(exchanges.slice(4)).toEqual([["DELETE", "", 200]])
        const posts = proxy.seen.filter((exchange) => exchange.httpMethod === "POST")
        expect(proxy.seen.every((exchange) => exchange.authorization === `Bearer ${token}`)).toBe(true)
        const initialize = posts.find((exchange) => exchange.rpcMethod === "initialize")
        expect(initialize?.body).toContain(`"protocolVersion":"2025-06-18"`)
        const listed = posts.find((exchange) => exchange.rpcMethod === "tools/list")
        expect(listed?.protocolVersion).toEqual("2025-06-18")
        expect(listed?.body).toContain(`"name":"service_status"`)
        expect(listed?.body).not.toContain(`"name":"pause_account"`)
      }))
  })
})
