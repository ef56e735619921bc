import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import WebSocket from "ws"
import { Instances } from "../src/Instances.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, setupPool } from "./support/Gateway.ts"
import { held } from "./support/Hold.ts"
import { codexHeaders, responsesBody, send } from "./support/Requests.ts"
import { eventually, settledRow } from "./support/Rows.ts"

const call = (key: string, path = "/responses", model = "gpt-5.5") =>
  Effect.flatMap(gatewayUrl, (url) =>
    send(`${url}/backend-api/codex${path}`, {
      method: "POST",
      headers: codexHeaders(key, `thread-${Math.random()}`),
      body: JSON.stringify({ ...responsesBody(), model })
    }))

const keyWith = (slug: string, limits: NonNullable<Parameters<PoolKeys["create"]>[0]["limits"]>) =>
  Effect.flatMap(PoolKeys, (keys) => keys.create({ poolSlug: slug, limits })).pipe(
    Effect.map((created) => created.token)
  )

const burst = (key: string, size: number) =>
  Effect.all(Array.from({ length: size }, () => call(key)), { concurrency: "unbounded" })

const outcomes = (answers: ReadonlyArray<{ readonly status: number; readonly text: string }>) =>
  answers.map((answer) => answer.status === 200 ? "admitted" : `${answer.status} ${JSON.parse(answer.text).error.code}`)
    .sort()

// Sockets of their own, opened first, then one response.create on each at once: the frames that answer them.
const burstOverWebsocket = (key: string, size: number) =>
  Effect.flatMap(gatewayUrl, (url) =>
    Effect.promise(async () => {
      const sockets = await Promise.all(Array.from({ length: size }, () =>
        new Promise<WebSocket>((open) => {
          const socket = new WebSocket(url.replace(/^http/, "ws") + "/backend-api/codex/responses", {
            headers: {
              ...codexHeaders(key, `thread-${Math.random()}`),
              "openai-beta": "responses_websockets=2026-02-06"
            }
          })
          socket.once("open", () => open(socket))
        })))
      return Promise.all(sockets.map((socket) =>
        new Promise<{ readonly type: string; readonly status?: number; readonly error?: { readonly code?: string } }>(
          (done) => {
            socket.on("message", (data) => {
              const frame = JSON.parse(data.toString())
              if (frame.type !== "response.completed" && frame.type !== "error") return
              socket.close()
              done(frame)
            })
            socket.send(JSON.stringify({ type: "response.create", ...responsesBody() }))
          }
        )
      ))
    }))

// The key's request rows once all have ended, each with how many attempts it has.
const settledRowsOf = (token: string) =>
  Effect.gen(function*() {
    const keyId = (yield* (yield* PoolKeys).verify(token)).id
    const sql = yield* SqlClient.SqlClient
    return yield* eventually(
      sql`SELECT status,
        (SELECT count(*)::int FROM request_attempts WHERE request_id = requests.id) AS attempts
      FROM requests WHERE key_id = ${keyId}`,
      (rows) => rows.every((row) => row["status"] !== "in_progress")
    )
  }).pipe(Effect.orDie)

describe.each(backends)("key policy on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("a model outside the key's allow-list is refused with 403 on responses and compact", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { allowedModels: ["gpt-5.5"] })
        fake.reset()
        for (const path of ["/responses", "/responses/compact"]) {
          const refused = yield* call(key, path, "gpt-4o")
          expect([refused.status, JSON.parse(refused.text).error.code]).toEqual([403, "model_not_allowed"])
        }
        expect(fake.requests).toHaveLength(0)
        expect((yield* call(key)).status).toBe(200)
      }))

    it.scoped("a stream left in progress by a lost instance stops counting once swept; a live instance's keeps counting", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const instances = yield* Instances
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { maxConcurrent: 2 })
        const keyId = key.slice(4, 20)
        // A row of an instance that was killed (it never beats again), with its attempt.
        yield* sql`INSERT INTO requests (id, pool_id, key_id, route, transport, status, started_at, instance_id)
          VALUES ('req_lost', ${pool.poolId}, ${keyId}, 'responses', 'sse', 'in_progress', now() - interval '2 minutes', 'inst_gone')`
        yield* sql`INSERT INTO request_attempts (request_id, attempt, account_id, started_at)
          VALUES ('req_lost', 1, ${pool.accounts[0]!.id}, now() - interval '2 minutes')`
        // And a stream of this instance, held open upstream until the checks are done. Only once it is there is the
        // next request sent (one of an earlier test's would not do).
        const stream = yield* held
        fake.reset()
        fake.fault(pool.accounts[0]!.fake.accountId, stream.fault)
        const open = yield* Effect.fork(call(key))
        yield* Effect.promise(() =>
          fake.waitFor(() => fake.requests.some((request) => request.fault === "stall"), 30_000)
        )
        expect(JSON.parse((yield* call(key)).text).error.code).toEqual("key_concurrent_streams")

        expect(yield* instances.sweep).toBe(1)
        expect(yield* sql`SELECT status, error_code FROM requests WHERE id = 'req_lost'`).toEqual([{
          status: "failed",
          errorCode: "instance_lost"
        }])
        expect(yield* sql`SELECT outcome, error_code FROM request_attempts WHERE request_id = 'req_lost'`)
          .toEqual([{ outcome: "failed", errorCode: "instance_lost" }])
        const live =
          yield* sql`SELECT status FROM requests WHERE key_id = ${keyId} AND id <> 'req_lost' AND status = 'in_progress'`
        expect(live).toHaveLength(1)
        expect((yield* call(key)).status).toBe(200)
        stream.release()
        expect((yield* Fiber.join(open)).status).toBe(200)
      }))

    it.effect("requests per minute: over the limit is a retryable 429 with Retry-After, not a 401", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { requestsPerMinute: 2 })
        expect((yield* call(key)).status).toBe(200)
        expect((yield* call(key)).status).toBe(200)
        fake.reset()
        const refused = yield* call(key)
        expect(refused.status).toBe(429)
        expect(JSON.parse(refused.text).error).toMatchObject({
          type: "rate_limit_exceeded",
          code: "key_requests_per_minute",
          retryable: true
        })
        expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
        expect(fake.requests).toHaveLength(0)
      }))

    it.effect("tokens per day: once today's tokens reach the budget, further requests are refused", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { tokensPerDay: 1000 })
        const first = yield* call(key)
        expect(first.status).toBe(200)
        yield* settledRow(first.headers.get("x-codex-pooler-request-id") ?? "")
        const refused = yield* call(key)
        expect([refused.status, JSON.parse(refused.text).error.code]).toEqual([429, "key_tokens_per_day"])
        expect(JSON.parse(refused.text).error.retryable).toBe(false)
      }))

    it.scoped("concurrent streams: a second stream while the first is open is refused", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { maxConcurrent: 1 })
        const first = yield* held
        fake.reset()
        fake.fault(pool.accounts[0]!.fake.accountId, first.fault)
        const url = yield* gatewayUrl
        const open = fetch(`${url}/backend-api/codex/responses`, {
          method: "POST",
          headers: codexHeaders(key, "thread-long"),
          body: JSON.stringify(responsesBody())
        }).then((response) => response.text())
        yield* Effect.promise(() =>
          fake.waitFor(() => fake.requests.some((request) => request.fault === "stall"), 30_000)
        )
        const refused = yield* call(key)
        expect([refused.status, JSON.parse(refused.text).error.code]).toEqual([429, "key_concurrent_streams"])
        first.release()
        expect(yield* Effect.promise(() => open)).toContain("response.completed")
      }))

    it.scoped("concurrent streams: of a burst at once, exactly the limit is admitted", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { maxConcurrent: 2 })
        const accountId = pool.accounts[0]!.fake.accountId
        // The admitted streams stay open until every request of the burst has been decided: refused, or held upstream.
        const streams = yield* held
        fake.reset()
        fake.fault(accountId, streams.fault, 6)
        const answered: Array<number> = []
        const answers = yield* Effect.fork(Effect.all(
          Array.from({ length: 6 }, () => Effect.tap(call(key), (answer) => void answered.push(answer.status))),
          { concurrency: "unbounded" }
        ))
        yield* Effect.promise(() =>
          fake.waitFor(
            () => answered.length + fake.requests.filter((request) => request.fault === "stall").length >= 6,
            30_000
          )
        )
        streams.release()
        fake.clearFaults(accountId)
        expect(outcomes(yield* Fiber.join(answers))).toEqual([
          "429 key_concurrent_streams",
          "429 key_concurrent_streams",
          "429 key_concurrent_streams",
          "429 key_concurrent_streams",
          "admitted",
          "admitted"
        ])
      }))

    it.effect("requests per minute: of a burst at once, exactly the limit is admitted, and only they leave a row", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { requestsPerMinute: 3 })
        const answers = yield* burst(key, 6)
        expect(outcomes(answers)).toEqual([
          "429 key_requests_per_minute",
          "429 key_requests_per_minute",
          "429 key_requests_per_minute",
          "admitted",
          "admitted",
          "admitted"
        ])
        expect(yield* settledRowsOf(key)).toHaveLength(3)
      }))
  })
})

describe.each(backends)("key policy over websocket on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("each response.create is admitted on its own: a refused one gets an error frame and the socket stays open", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { allowedModels: ["gpt-5.5"], requestsPerMinute: 2 })
        const url = (yield* gatewayUrl).replace(/^http/, "ws") + "/backend-api/codex/responses"
        const socket = new WebSocket(url, {
          headers: { ...codexHeaders(key), "openai-beta": "responses_websockets=2026-02-06" }
        })
        const frames: Array<{ type: string; status?: number; error?: { code?: string } }> = []
        const waiters: Array<() => void> = []
        socket.on("message", (data) => {
          frames.push(JSON.parse(data.toString()))
          waiters.splice(0).forEach((wake) => wake())
        })
        const next = (predicate: (frame: (typeof frames)[number]) => boolean) =>
          Effect.promise(() =>
            new Promise<void>((done) => {
              const check = () => (frames.some(predicate) ? done() : waiters.push(check))
              check()
            })
          )
        yield* Effect.promise(() => new Promise((done) => socket.once("open", done)))
        const create = (model: string) =>
          socket.send(JSON.stringify({ type: "response.create", ...responsesBody(), model }))

        create("gpt-4o")
        yield* next((frame) => frame.type === "error")
        expect(frames.at(-1)).toMatchObject({ type: "error", status: 403, error: { code: "model_not_allowed" } })
        frames.length = 0
        create("gpt-5.5")
        yield* next((frame) => frame.type === "response.completed")
        frames.length = 0
        create("gpt-5.5")
        yield* next((frame) => frame.type === "response.completed")
        frames.length = 0
        create("gpt-5.5")
        yield* next((frame) => frame.type === "error")
        expect(frames.at(-1)).toMatchObject({ type: "error", status: 429, error: { code: "key_requests_per_minute" } })
        expect(socket.readyState).toBe(WebSocket.OPEN)
        socket.close()
      }))

    it.effect("of a burst of response.create on several sockets, exactly the limit is admitted, each with one row", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { requestsPerMinute: 2 })
        const answers = yield* burstOverWebsocket(key, 4)
        expect(
          answers.map((frame) => frame.type === "error" ? `${frame.status} ${frame.error?.code}` : frame.type).sort()
        ).toEqual([
          "429 key_requests_per_minute",
          "429 key_requests_per_minute",
          "response.completed",
          "response.completed"
        ])
        expect(yield* settledRowsOf(key)).toEqual([{ status: "succeeded", attempts: 1 }, {
          status: "succeeded",
          attempts: 1
        }])
      }))
  })
})
