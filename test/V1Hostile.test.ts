import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, setupPool } from "./support/Gateway.ts"
import { send } from "./support/Requests.ts"

const upstreamCalls = (requests: ReadonlyArray<{ readonly path: string }>) =>
  requests.filter((request) => request.path.startsWith("/backend-api/"))

// What a client sends /v1 and the Pool's reset-credit list is parsed, bounded and answered with a clear 4xx in
// OpenAI's error shape; nothing reaches upstream.
describe.each(backends)("hostile input on /v1 on %s", (backend) => {
  layer(gatewayLayer(backend, { CODEX_POOLER_MAX_BODY_BYTES: "65536" }), {
    excludeTestServices: true,
    timeout: 60_000
  })(
    (it) => {
      it.effect("bodies that are not a JSON object, oversized, or with a poisoned field name are refused", () =>
        Effect.gen(function*() {
          const fake = yield* Fake
          const pool = yield* setupPool(1)
          const url = yield* gatewayUrl
          fake.reset()
          const post = (path: string, body: string, headers: Record<string, string> = {}) =>
            send(`${url}${path}`, {
              method: "POST",
              headers: { authorization: `Bearer ${pool.key}`, "content-type": "application/json", ...headers },
              body
            })
          for (const path of ["/v1/responses", "/v1/chat/completions"]) {
            for (
              const [body, status, code] of [
                ["not json", 400, "invalid_json"],
                ["[1,2]", 400, "invalid_json"],
                ["{\"model\":\"gpt-5.5\",\"model\":\"x\"}", 400, "invalid_json"],
                [
                  JSON.stringify({ model: "gpt-5.5", __proto__x: 1, input: "hi", messages: [] }),
                  400,
                  "unknown_parameter"
                ],
                [JSON.stringify({ model: "gpt-5.5", input: "x".repeat(70_000) }), 413, "request_too_large"]
              ] as const
            ) {
              const answer = yield* post(path, body)
              expect(answer.status, `${path} ${body.slice(0, 40)}`).toBe(status)
              const error = JSON.parse(answer.text).error
              expect(error.code).toBe(code)
              expect(typeof error.message).toBe("string")
            }
            const gzipLie = yield* post(path, "{}", { "content-encoding": "gzip" })
            expect(gzipLie.status).toBe(400)
          }
          expect(upstreamCalls(fake.requests)).toEqual([])
        }))

      it.effect("no key, or a malformed one, gets 401 on every /v1 route and on the Pool's reset-credit list", () =>
        Effect.gen(function*() {
          const fake = yield* Fake
          const url = yield* gatewayUrl
          fake.reset()
          const paths = ["/v1/models", "/v1/usage", "/backend-api/wham/rate-limit-reset-credits"]
          for (const path of paths) {
            for (const authorization of [undefined, "Bearer cpk_x", "Basic abc", `Bearer ${"a".repeat(5000)}`]) {
              const answer = yield* send(
                `${url}${path}`,
                authorization === undefined ? {} : { headers: { authorization } }
              )
              expect(answer.status, `${path} ${authorization?.slice(0, 20)}`).toBe(401)
              expect(JSON.parse(answer.text).error.code).toBe("invalid_api_key")
            }
          }
          expect(upstreamCalls(fake.requests)).toEqual([])
        }))
    }
  )
})
