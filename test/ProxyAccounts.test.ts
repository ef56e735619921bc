import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, postResponses, setupPool } from "./support/Gateway.ts"
import { codexHeaders, responsesBody, send } from "./support/Requests.ts"
import { attemptRows, settledRow } from "./support/Rows.ts"

describe.each(backends)("accounts behind the proxy on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("an upstream 401 refreshes the account's token once and the request succeeds on it", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const account = pool.accounts[0]!
        fake.reset()
        fake.fault(account.fake.accountId, "unauthorized")
        const answer = yield* postResponses(pool.key)
        expect(answer.status).toBe(200)
        expect(answer.text).toContain("response.completed")
        expect(fake.refreshCalls.map((call) => call.reason)).toEqual(["unauthorized_recovery"])
        const sent = fake.requests.filter((request) => request.path.endsWith("/responses"))
        expect(sent.map((request) => request.headers["authorization"])).toEqual([
          `Bearer ${account.fake.accessToken}`,
          `Bearer ${fake.account(account.fake.accountId).accessToken}`
        ])
        const requestId = answer.headers.get("x-codex-pooler-request-id") ?? ""
        expect(yield* settledRow(requestId)).toMatchObject({ status: "succeeded", attempts: 2 })
        expect(yield* attemptRows(requestId)).toMatchObject([
          { attempt: 1, httpStatus: 401, outcome: "retried" },
          { attempt: 2, httpStatus: 200, outcome: "succeeded" }
        ])
      }))

    it.effect("20 concurrent requests that meet a 401 on one account cause exactly one refresh", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const account = pool.accounts[0]!
        yield* postResponses(pool.key)
        fake.reset()
        fake.expireAccessToken(account.fake.accountId)
        const answers = yield* Effect.all(Array.from({ length: 20 }, () => postResponses(pool.key)), {
          concurrency: "unbounded"
        })
        expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200))
        expect(fake.refreshCalls).toHaveLength(1)
        expect(fake.refreshCalls[0]?.outcome).toEqual("ok")
      }))

    it.effect("a rejected refresh token puts the account in reauth_required and it is no longer selected", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(1)
        const account = pool.accounts[0]!
        fake.reset()
        fake.expireAccessToken(account.fake.accountId)
        fake.fault(account.fake.accountId, "refresh_token_expired")
        const answer = yield* postResponses(pool.key)
        expect(answer.status).toBe(503)
        expect(JSON.parse(answer.text)).toEqual({
          error: {
            type: "server_error",
            code: "no_account_available",
            message: "this Pool has no active accounts"
          }
        })
        expect(answer.text).not.toContain(account.id)
        const rows = yield* sql`SELECT status FROM accounts WHERE id = ${account.id}`
        expect(rows).toEqual([{ status: "reauth_required" }])
        const before = fake.requests.length
        const again = yield* postResponses(pool.key)
        expect([again.status, JSON.parse(again.text).error.message]).toEqual([503, "this Pool has no active accounts"])
        expect(fake.requests.length).toEqual(before)
      }))

    it.effect("a key of one Pool never reaches another Pool's accounts", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const [first, second] = [yield* setupPool(1), yield* setupPool(1)]
        fake.reset()
        const answers = yield* Effect.all(
          [first, second, first, second, first].map((pool) => postResponses(pool.key, `thread-${pool.slug}`))
        )
        expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200])
        expect(fake.requests.map((request) => request.accountId)).toEqual(
          [first, second, first, second, first].map((pool) => pool.accounts[0]!.fake.accountId)
        )
      }))

    it.effect("a session stays on its account, and compact goes to the session's account even when another is due", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        fake.reset()
        const url = yield* gatewayUrl
        const first = yield* postResponses(pool.key, "thread-a")
        expect(first.status).toBe(200)
        const owner = fake.requests.at(-1)?.accountId
        const second = yield* postResponses(pool.key, "thread-a")
        expect(second.status).toBe(200)
        expect(fake.requests.at(-1)?.accountId).toEqual(owner)
        const other = yield* postResponses(pool.key, "thread-b")
        expect(other.status).toBe(200)
        expect(fake.requests.at(-1)?.accountId).not.toEqual(owner)

        const compact = yield* send(`${url}/backend-api/codex/responses/compact`, {
          method: "POST",
          headers: { ...codexHeaders(pool.key, "thread-a"), accept: "application/json" },
          body: JSON.stringify({ model: "gpt-5.5", input: responsesBody().input, tools: [], parallel_tool_calls: true })
        })
        expect(compact.status).toBe(200)
        expect(fake.requests.at(-1)).toMatchObject({ path: "/backend-api/codex/responses/compact", accountId: owner })
        expect(JSON.parse(compact.text).output.at(-1)).toMatchObject({ type: "compaction" })
        const row = yield* settledRow(compact.headers.get("x-codex-pooler-request-id") ?? "")
        expect(row).toMatchObject({ route: "compact", transport: "http", status: "succeeded" })
      }))

    it.effect("within a turn, x-codex-turn-state pins the follow-up request to the account that issued it", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        fake.reset()
        const url = yield* gatewayUrl
        const first = yield* send(`${url}/backend-api/codex/responses`, {
          method: "POST",
          headers: codexHeaders(pool.key, "thread-turn"),
          body: JSON.stringify(responsesBody("run tool"))
        })
        const turnState = first.headers.get("x-codex-turn-state") ?? ""
        const owner = fake.requests.at(-1)?.accountId
        // The session binding is gone (say, another instance's thread id differs); the turn state alone decides.
        const followUp = yield* send(`${url}/backend-api/codex/responses`, {
          method: "POST",
          headers: { ...codexHeaders(pool.key, "another-thread"), "x-codex-turn-state": turnState },
          body: JSON.stringify(responsesBody("done"))
        })
        expect(followUp.status).toBe(200)
        expect(fake.requests.at(-1)?.accountId).toEqual(owner)
      }))

    it.effect("realtime calls relay the SDP answer and Location; models relay the catalog with its ETag", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        const url = yield* gatewayUrl
        const offer = { sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n", session: { type: "realtime" } }
        const call = yield* send(`${url}/backend-api/codex/realtime/calls`, {
          method: "POST",
          headers: { authorization: `Bearer ${pool.key}`, "content-type": "application/json", "x-session-id": "rt-1" },
          body: JSON.stringify(offer)
        })
        expect(call.status).toBe(201)
        expect(call.headers.get("location")).toMatch(/^\/v1\/realtime\/calls\/rtc_/)
        expect(call.text.startsWith("v=0")).toBe(true)
        expect(fake.requests.at(-1)?.body).toEqual(offer)

        const models = `${url}/backend-api/codex/models?client_version=0.169.0`
        const catalog = yield* send(models, { headers: { authorization: `Bearer ${pool.key}` } })
        expect(catalog.status).toBe(200)
        expect(catalog.headers.get("etag")).toEqual(fake.modelsEtag)
        expect(JSON.parse(catalog.text).models.length).toBeGreaterThan(0)
        const again = yield* send(models, {
          headers: { authorization: `Bearer ${pool.key}`, "if-none-match": fake.modelsEtag }
        })
        expect([again.status, again.text, again.headers.get("etag")]).toEqual([304, "", fake.modelsEtag])
        expect(fake.requests.filter((request) => request.path.endsWith("/models"))).toHaveLength(1)
        expect(fake.requests.find((request) => request.path.endsWith("/models"))?.query).toEqual({
          client_version: "0.169.0"
        })
      }))
  })
})
