import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Quota } from "../src/Quota.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, setupPool } from "./support/Gateway.ts"
import { codexHeaders, responsesBody, send, sseEvents } from "./support/Requests.ts"
import { attemptRows, eventually, requestRow, settledRow } from "./support/Rows.ts"

describe.each(backends)("relay on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("swaps credentials: Codex headers pass unchanged, the client's key and cookies never reach upstream", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        const headers = {
          ...codexHeaders(pool.key),
          cookie: "session=secret-cookie",
          "chatgpt-account-id": "someone-else",
          "x-openai-fedramp": "true",
          "x-forwarded-for": "10.0.0.1",
          te: "trailers",
          "x-codex-turn-state": "turn-from-client"
        }
        const answer = yield* send(`${yield* gatewayUrl}/backend-api/codex/responses`, {
          method: "POST",
          headers,
          body: JSON.stringify(responsesBody())
        })
        expect(answer.status).toBe(200)
        const seen = fake.requests[0]?.headers ?? {}
        const account = pool.accounts[0]!.fake
        expect(seen["authorization"]).toEqual(`Bearer ${account.accessToken}`)
        expect(seen["chatgpt-account-id"]).toEqual(account.accountId)
        for (
          const name of [
            "originator",
            "user-agent",
            "session-id",
            "thread-id",
            "x-client-request-id",
            "x-codex-window-id",
            "x-codex-beta-features",
            "x-codex-turn-metadata",
            "x-codex-turn-state",
            "accept",
            "content-type"
          ] as const
        ) {
          expect(seen[name], name).toEqual(headers[name])
        }
        for (const name of ["cookie", "x-openai-fedramp", "x-forwarded-for", "te"]) {
          expect(seen[name], name).toBeUndefined()
        }
        expect(JSON.stringify(fake.requests)).not.toContain(pool.key.slice(-43))
        expect(answer.headers.get("x-codex-turn-state")).toEqual("turn-from-client")
        expect(answer.headers.get("x-codex-primary-used-percent")).toEqual("12.5")
        expect(answer.headers.get("openai-model")).toEqual("gpt-5.5")
        expect(answer.headers.get("x-models-etag")).toEqual(fake.modelsEtag)
        expect(answer.headers.get("x-request-id")).toMatch(/^req_fake_\d+$/)
      }))

    it.effect("SSE bytes reach the client exactly as upstream sent them, and usage is recorded", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        fake.setUsage(
          { inputTokens: 1234, cachedTokens: 1000, outputTokens: 5, reasoningTokens: 2 },
          pool.accounts[0]!.fake.accountId
        )
        const answer = yield* send(`${yield* gatewayUrl}/backend-api/codex/responses`, {
          method: "POST",
          headers: codexHeaders(pool.key),
          body: JSON.stringify(responsesBody())
        })
        expect(answer.headers.get("content-type")).toEqual("text/event-stream")
        expect(answer.text).toEqual(fake.requests[0]?.sentBody)
        expect(sseEvents(answer.text).at(-1)?.type).toEqual("response.completed")
        const row = yield* settledRow(answer.headers.get("x-codex-pooler-request-id") ?? "")
        expect(row).toMatchObject({
          status: "succeeded",
          httpStatus: 200,
          route: "responses",
          transport: "sse",
          model: "gpt-5.5",
          accountId: pool.accounts[0]!.id,
          attempts: 1,
          inputTokens: "1234",
          cachedInputTokens: "1000",
          outputTokens: "5",
          reasoningTokens: "2",
          totalTokens: "1239",
          upstreamRequestId: answer.headers.get("x-request-id")
        })
        expect(row?.["firstByteAt"]).toBeInstanceOf(Date)
        // The quota is recorded beside the row's final write, not before it: wait for it rather than for the row.
        const quota = yield* eventually(
          (yield* Quota).forAccount(pool.accounts[0]!.id),
          (windows) => windows.length >= 2
        )
        expect(quota.map((window) => [window.windowKind, window.usedPercent, window.windowMinutes])).toEqual([
          ["primary", 12.5, 300],
          ["secondary", 40, 10080]
        ])
      }))

    it.effect("a client that goes away aborts the upstream request and the row is cancelled", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        fake.fault(pool.accounts[0]!.fake.accountId, { kind: "stall" })
        const abortsBefore = fake.aborts
        const controller = new AbortController()
        const url = yield* gatewayUrl
        const streaming = yield* Effect.promise(() =>
          fetch(`${url}/backend-api/codex/responses`, {
            method: "POST",
            headers: codexHeaders(pool.key),
            body: JSON.stringify(responsesBody()),
            signal: controller.signal
          })
        )
        const reader = streaming.body!.getReader()
        const first = yield* Effect.promise(() => reader.read())
        expect(new TextDecoder().decode(first.value)).toContain("response.created")
        controller.abort()
        yield* Effect.promise(() => fake.waitFor(() => fake.aborts > abortsBefore, 30_000))
        const row = yield* settledRow(streaming.headers.get("x-codex-pooler-request-id") ?? "")
        expect(row).toMatchObject({ status: "cancelled", errorCode: "client_closed" })
      }))

    it.effect("an upstream that drops mid-stream ends the client's stream with a retryable terminal event", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        fake.fault(pool.accounts[0]!.fake.accountId, { kind: "disconnect_mid_stream", afterEvents: 3 })
        // Spaced events, so the relay has read what was sent before the connection drops.
        fake.setEventDelay(20)
        const answer = yield* send(`${yield* gatewayUrl}/backend-api/codex/responses`, {
          method: "POST",
          headers: codexHeaders(pool.key),
          body: JSON.stringify(responsesBody())
        })
        const events = sseEvents(answer.text)
        expect(events.map((event) => event.type)).toEqual([
          "response.created",
          "response.in_progress",
          "response.output_item.added",
          "response.failed"
        ])
        fake.setEventDelay(0)
        expect(events.at(-1)).toMatchObject({ response: { error: { code: "upstream_stream_interrupted" } } })
        expect(answer.text.startsWith(fake.requests[0]?.sentBody ?? "-")).toBe(true)
        const row = yield* settledRow(answer.headers.get("x-codex-pooler-request-id") ?? "")
        expect(row).toMatchObject({ status: "failed", errorCode: "upstream_stream_interrupted" })
      }))

    it.effect("upstream errors are relayed as they came and recorded as failed attempts", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        fake.fault(pool.accounts[0]!.fake.accountId, { kind: "usage_limit", resetsInSeconds: 1800 })
        const answer = yield* send(`${yield* gatewayUrl}/backend-api/codex/responses`, {
          method: "POST",
          headers: codexHeaders(pool.key),
          body: JSON.stringify(responsesBody())
        })
        expect(answer.status).toBe(429)
        expect(JSON.parse(answer.text)).toMatchObject({ error: { type: "usage_limit_reached", plan_type: "pro" } })
        const requestId = answer.headers.get("x-codex-pooler-request-id") ?? ""
        expect(yield* settledRow(requestId)).toMatchObject({
          status: "failed",
          httpStatus: 429,
          errorCode: "usage_limit_reached"
        })
        expect(yield* attemptRows(requestId)).toMatchObject([{ attempt: 1, httpStatus: 429, outcome: "failed" }])
        expect(yield* requestRow(requestId)).toBeDefined()
      }))
  })
})
