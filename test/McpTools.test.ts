import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { backends } from "./support/Databases.ts"
import { gatewayLayer, gatewayUrl, setupPool } from "./support/Gateway.ts"
import { callTool, connectMcp } from "./support/Mcp.ts"
import { codexHeaders, responsesBody, send } from "./support/Requests.ts"
import { settledRow } from "./support/Rows.ts"

const readTools = [
  "service_status",
  "list_pools",
  "get_pool",
  "list_accounts",
  "get_account",
  "list_keys",
  "get_key",
  "list_requests",
  "usage_summary",
  "session_counts"
]

const connect = connectMcp
const call = callTool

const token = (scope: "read" | "admin") =>
  Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope })).pipe(Effect.map((created) => created.token))

describe.each(backends)("operator MCP read tools on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.scoped("a read token sees only the read tools and cannot write", () =>
      Effect.gen(function*() {
        const client = yield* connect(yield* token("read"))
        const listed = yield* Effect.promise(() => client.listTools())
        expect(listed.tools.map((tool) => tool.name).sort()).toEqual([...readTools].sort())
        expect(listed.tools.every((tool) => tool.outputSchema?.type === "object")).toBe(true)
        const pool = yield* setupPool(1)
        const write = yield* call(client, "pause_account", { accountId: pool.accounts[0]?.id })
        expect(write).toMatchObject({ isError: true })
        expect(write.text).toContain("needs an admin operator token")
      }))

    it.scoped("read tools report pools, accounts, keys, requests, usage and sessions, masked and without secrets", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(2)
        const answer = yield* Effect.flatMap(
          gatewayUrl,
          (url) =>
            send(`${url}/backend-api/codex/responses`, {
              method: "POST",
              headers: codexHeaders(pool.key),
              body: JSON.stringify(responsesBody())
            })
        )
        yield* settledRow(answer.headers.get("x-codex-pooler-request-id") ?? "")
        const secret = yield* token("read")
        const client = yield* connect(secret)
        const keyId = pool.key.split("_")[1] ?? ""
        const results = yield* Effect.all({
          status: call(client, "service_status"),
          pools: call(client, "list_pools"),
          pool: call(client, "get_pool", { pool: pool.slug }),
          accounts: call(client, "list_accounts", { pool: pool.slug }),
          account: call(client, "get_account", { accountId: pool.accounts[0]?.id }),
          keys: call(client, "list_keys", { pool: pool.slug }),
          key: call(client, "get_key", { keyId }),
          requests: call(client, "list_requests", { pool: pool.slug, status: "succeeded" }),
          usage: call(client, "usage_summary", { by: "model" }),
          sessions: call(client, "session_counts", { pool: pool.slug })
        })
        for (const [name, result] of Object.entries(results)) expect([name, result.isError]).toEqual([name, false])
        expect(results.status.structured).toMatchObject({ status: "ok", database: "ok" })
        expect(results.pool.structured).toMatchObject({ pool: { slug: pool.slug, accounts: 2, activeKeys: 1 } })
        expect(results.account.structured).toMatchObject({
          account: {
            id: pool.accounts[0]?.id,
            email: expect.stringMatching(/^u\*\*\*@fake\.example$/),
            status: "active"
          }
        })
        expect(results.key.structured).toMatchObject({
          key: { id: keyId, prefix: `cpk_${keyId}_`, usage: { requestsTotal: 1 } }
        })
        expect(results.requests.structured).toMatchObject({
          requests: [{ poolSlug: pool.slug, model: "gpt-5.5" }],
          nextOffset: null
        })
        expect(results.usage.structured).toMatchObject({
          by: "model",
          groups: expect.arrayContaining([expect.objectContaining({ group: "gpt-5.5" })])
        })
        expect(results.sessions.structured).toMatchObject({ total: expect.any(Number) })
        const everything = JSON.stringify(results)
        expect(everything).not.toMatch(/user\d+@fake\.example/)
        expect(everything).not.toContain(pool.key)
        expect(everything).not.toContain(secret)
        expect(everything).not.toMatch(/cp[ko]_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/)
      }))

    it.scoped("bad input is a tool error with a clear message", () =>
      Effect.gen(function*() {
        const client = yield* connect(yield* token("read"))
        const cases = yield* Effect.all([
          call(client, "get_account", { accountId: "acct_missing" }),
          call(client, "get_pool", { pool: "no-such-pool" }),
          call(client, "get_key", { keyId: "0000000000000000" }),
          call(client, "list_requests", { status: "exploded" }),
          call(client, "list_requests", { limit: 0 }),
          call(client, "usage_summary", { since: "2025-02-01T00:00:00Z", until: "2025-01-01T00:00:00Z" }),
          call(client, "get_pool", { pool: "x", surprise: true })
        ])
        expect(cases.map((result) => result.isError)).toEqual(Array(7).fill(true))
        expect(cases[0]?.text).toContain(`no account with id \\"acct_missing\\"`)
        expect(cases[1]?.text).toContain("no pool")
        expect(cases[2]?.text).toContain("no key")
        expect(cases[3]?.text).toContain("invalid arguments")
        expect(cases[4]?.text).toContain("between 1 and 200")
        expect(cases[5]?.text).toContain("since must be before until")
        expect(cases[6]?.text).toContain("surprise")
      }))
  })
})
