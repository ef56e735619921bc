import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { backends } from "./support/Databases.ts"
import { gatewayLayer, gatewayUrl, setupPool } from "./support/Gateway.ts"
import { send } from "./support/Requests.ts"

const token = (scope: "read" | "admin") =>
  Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope })).pipe(Effect.map((created) => created.token))

const postMcp = (headers: Record<string, string>, body: string) =>
  Effect.flatMap(gatewayUrl, (url) =>
    send(`${url}/mcp`, {
      method: "POST",
      headers: { accept: "application/json, text/event-stream", "content-type": "application/json", ...headers },
      body
    }))

const initialize = JSON.stringify({
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } }
})

describe.each(backends)("operator MCP authentication on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("refuses missing, malformed, revoked and Pool-key credentials with 401 and a challenge", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const tokens = yield* OperatorTokens
        const revoked = yield* tokens.create({ scope: "admin" })
        yield* tokens.revoke(revoked.operatorToken.id)
        const answers = yield* Effect.forEach(
          [{}, { authorization: "Bearer cpo_nope" }, { authorization: `Bearer ${pool.key}` }, {
            authorization: `Bearer ${revoked.token}`
          }],
          (headers) => postMcp(headers, initialize)
        )
        expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401, 401])
        expect(answers[0]?.headers.get("www-authenticate")).toEqual(`Bearer realm="codex-pooler"`)
        expect(answers[3]?.headers.get("www-authenticate")).toContain(`error="invalid_token"`)
        expect(JSON.parse(answers[3]?.text ?? "")).toMatchObject({
          jsonrpc: "2.0",
          error: { message: "This operator token has been revoked" }
        })
      }))

    it.effect("answers malformed JSON-RPC and unknown sessions with JSON-RPC errors, never a 5xx", () =>
      Effect.gen(function*() {
        const authorization = `Bearer ${yield* token("read")}`
        const garbage = yield* postMcp({ authorization }, "{not json")
        expect(garbage.status).toBe(400)
        expect(JSON.parse(garbage.text)).toMatchObject({ jsonrpc: "2.0", error: { code: -32700 } })
        const early = yield* postMcp({ authorization }, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }))
        expect(early.status).toBe(400)
        expect(JSON.parse(early.text)).toMatchObject({ jsonrpc: "2.0", error: {} })
        const stale = yield* postMcp(
          { authorization, "mcp-session-id": "nope" },
          JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" })
        )
        expect(stale.status).toBe(404)
      }))
  })
})
