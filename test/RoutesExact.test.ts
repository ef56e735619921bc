import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as http from "node:http"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, setupPool } from "./support/Gateway.ts"
import { codexHeaders, responsesBody } from "./support/Requests.ts"

// node:http sends the path exactly as written (fetch would resolve dot segments and re-encode).
const rawPost = (origin: string, path: string, headers: Record<string, string>, body: string) =>
  Effect.promise(() =>
    new Promise<{ readonly status: number; readonly text: string }>((resolve, reject) => {
      const { hostname, port } = new URL(origin)
      const request = http.request({ host: hostname, port, path, method: "POST", headers }, (response) => {
        const parts: Array<Buffer> = []
        response.on("data", (part: Buffer) => parts.push(part))
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(parts).toString("utf8") }))
      })
      request.on("error", reject)
      request.end(body)
    })
  )

const codeOf = (text: string) => {
  try {
    return JSON.parse(text).error?.code ?? "-"
  } catch {
    return "-"
  }
}

describe.each(backends)("exact Codex routes on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("only the exact, case-sensitive path is a route; every other spelling is a 404 that reaches no account", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const origin = yield* gatewayUrl
        const headers = codexHeaders(pool.key)
        const body = JSON.stringify(responsesBody())
        const refused = [
          "/backend-api/codex/RESPONSES",
          "/backend-api/codex/Responses",
          "/backend-api/codex/responses;x=y",
          "/backend-api/codex/responses;",
          "/backend-api/codex/respons%65s",
          "/backend-api/codex/responses%3Bx=y",
          "/backend-api/codex/responses%2Fcompact",
          "/backend-api/codex//responses",
          "/backend-api//codex/responses",
          "/backend-api/codex/responses/",
          "/backend-api/codex/./responses",
          "/backend-api/codex/foo/../responses",
          "/backend-api/codex/responses/compact/",
          "/backend-api/codex/responses/COMPACT",
          "/backend-api/codex/realtime/calls;x",
          "/backend-api/codex/Models",
          "/BACKEND-API/codex/responses"
        ]
        fake.reset()
        for (const path of refused) {
          const answer = yield* rawPost(origin, path, headers, body)
          expect([answer.status, codeOf(answer.text)], path).toEqual([404, "unsupported_endpoint"])
        }
        expect(fake.requests).toHaveLength(0)
        for (const path of ["/backend-api/codex/responses", "/backend-api/codex/responses?client=x"]) {
          const answer = yield* rawPost(origin, path, headers, body)
          expect(answer.status, path).toBe(200)
        }
        expect(fake.requests.map((request) => request.path)).toEqual([
          "/backend-api/codex/responses",
          "/backend-api/codex/responses"
        ])
      }))

    it.effect("a realtime call must be a JSON {sdp, session} offer; anything else is a 400 that reaches no account", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const origin = yield* gatewayUrl
        const headers = { ...codexHeaders(pool.key), "content-type": "application/json" }
        fake.reset()
        const bad = [
          "{\"sdp\": \"v=0",
          "[1, 2]",
          "\"v=0\"",
          "null",
          "{}",
          JSON.stringify({ sdp: "v=0\r\n" }),
          JSON.stringify({ sdp: "", session: {} }),
          JSON.stringify({ sdp: 42, session: {} }),
          JSON.stringify({ sdp: "v=0\r\n", session: "realtime" }),
          JSON.stringify({ sdp: "v=0\r\n", session: [] }),
          "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"
        ]
        for (const body of bad) {
          const answer = yield* rawPost(origin, "/backend-api/codex/realtime/calls", headers, body)
          expect([answer.status, codeOf(answer.text)], body).toEqual([400, "invalid_json"])
        }
        expect(fake.requests).toHaveLength(0)
        const offer = JSON.stringify({
          sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n",
          session: { type: "realtime" }
        })
        const call = yield* rawPost(origin, "/backend-api/codex/realtime/calls", headers, offer)
        expect(call.status).toBe(201)
        expect(fake.requests.map((request) => request.body)).toEqual([JSON.parse(offer)])
      }))
  })
})
