import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { PoolKeys } from "../src/PoolKeys.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, postResponses, setupPool } from "./support/Gateway.ts"
import { inFlight } from "./support/InFlight.ts"
import { codexHeaders, send } from "./support/Requests.ts"
import { settledRow } from "./support/Rows.ts"

const keyWith = (slug: string, limits: NonNullable<Parameters<PoolKeys["create"]>[0]["limits"]>) =>
  Effect.map(Effect.flatMap(PoolKeys, (keys) => keys.create({ poolSlug: slug, limits })), (created) => created.token)

const compact = (key: string) =>
  Effect.flatMap(gatewayUrl, (url) =>
    send(`${url}/backend-api/codex/responses/compact`, {
      method: "POST",
      headers: { ...codexHeaders(key, `thread-${Math.random()}`), accept: "application/json" },
      body: JSON.stringify({
        model: "gpt-5.5",
        input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "compact me" }] }],
        tools: [],
        parallel_tool_calls: false
      })
    }))

describe.each(backends)("accounting on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("token counts no column can hold: the row is closed, the gauge returns to 0, the key goes on", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const accountId = pool.accounts[0]!.fake.accountId
        const key = yield* keyWith(pool.slug, { maxConcurrent: 1 })
        for (const usage of [{ inputTokens: -100, outputTokens: -5 }, { inputTokens: 1e20 }, { inputTokens: 1.5 }]) {
          fake.setUsage(usage, accountId)
          const answer = yield* postResponses(key)
          expect(answer.status).toBe(200)
          const row = yield* settledRow(answer.headers.get("x-codex-pooler-request-id") ?? "")
          expect([row?.["status"], row?.["inputTokens"], row?.["totalTokens"]]).toEqual(["succeeded", null, null])
          expect(yield* inFlight("responses")).toBe(0)
        }
        fake.setUsage({}, accountId)
        expect((yield* postResponses(key)).status).toBe(200)
      }))

    it.effect("a compact answer's usage is the request's, and counts toward tokens per day", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { tokensPerDay: 1000 })
        const compacted = yield* compact(key)
        expect(compacted.status).toBe(200)
        expect(JSON.parse(compacted.text).output.length).toBeGreaterThan(0)
        const row = yield* settledRow(compacted.headers.get("x-codex-pooler-request-id") ?? "")
        const counts = ["inputTokens", "cachedInputTokens", "totalTokens"].map((column) => Number(row?.[column]))
        expect([row?.["status"], ...counts]).toEqual(["succeeded", 1234, 1000, 1239])
        const refused = yield* postResponses(key)
        expect([refused.status, JSON.parse(refused.text).error.code]).toEqual([429, "key_tokens_per_day"])
      }))
  })
})
