import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { Accounts } from "../src/Accounts.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { highWaterMark, queueLimit } from "../src/Proxy/WebSocket/Frames.ts"
import { WebSocketBridge } from "../src/Proxy/WebSocketBridge.ts"
import { backends } from "./support/Databases.ts"
import { Fake, firstInLine, gatewayLayer, gatewayUrl, setupPool } from "./support/Gateway.ts"
import { held } from "./support/Hold.ts"
import { codexHeaders, responsesBody } from "./support/Requests.ts"
import { eventually, settledRow } from "./support/Rows.ts"
import { connectWebSocket } from "./support/WebSocketClient.ts"

const wsHeaders = (key: string, thread?: string) => ({
  ...codexHeaders(key, thread),
  "openai-beta": "responses_websockets=2026-02-06"
})

const open = (url: string, headers: Record<string, string>) =>
  connectWebSocket(url.replace(/^http/, "ws") + "/backend-api/codex/responses", headers)

const upgradeStatuses = (requests: ReadonlyArray<{ readonly kind: string; readonly status?: number }>) =>
  requests.filter((request) => request.kind === "ws-upgrade").map((request) => request.status ?? 101)

const create = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: "response.create", ...responsesBody(), ...extra })

describe.each(backends)("websocket bridge on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("authenticates before any upgrade: a bad key gets 401 and upstream sees nothing", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        fake.reset()
        const answer = yield* open(yield* gatewayUrl, wsHeaders("cpk_0000000000000000_" + "a".repeat(43)))
        expect(answer).toMatchObject({ status: 401 })
        expect("body" in answer && JSON.parse(answer.body).error.code).toEqual("invalid_api_key")
        expect(fake.requests).toHaveLength(0)
      }))

    it.effect("one upstream socket on the account's credentials; frames both ways; one accounting row per response", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(2)
        fake.reset()
        const client = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
        if (!("socket" in client)) return expect.fail(`upgrade refused: ${JSON.stringify(client)}`)
        expect(client.upgrade["x-codex-turn-state"]).toBeDefined()
        expect(client.upgrade["openai-model"]).toBeDefined()
        const upgrade = fake.requests.find((request) => request.kind === "ws-upgrade")
        const account = pool.accounts.find((candidate) => candidate.fake.accountId === upgrade?.accountId)
        expect(upgrade?.headers["authorization"]).toEqual(`Bearer ${account?.fake.accessToken}`)
        expect(upgrade?.headers["openai-beta"]).toEqual("responses_websockets=2026-02-06")
        expect(JSON.stringify(upgrade)).not.toContain(pool.key.slice(-43))

        client.socket.send(create({ generate: false }))
        yield* Effect.promise(() => client.next("response.completed"))
        const prewarm = JSON.stringify(client.frames.find((frame) => frame.type === "response.completed"))
        const prewarmId = /"id":"(resp_[^"]+)"/.exec(prewarm)?.[1]
        expect(prewarmId).toBeDefined()
        client.frames.length = 0
        client.socket.send(create({ previous_response_id: prewarmId }))
        yield* Effect.promise(() => client.next("response.completed"))
        expect(client.frames.map((frame) => frame.type)).toContain("codex.rate_limits")
        expect(client.frames.at(-1)).toMatchObject({
          type: "response.completed",
          response: { usage: { input_tokens: 1234 } }
        })
        client.socket.close(1000, "done")
        expect(yield* Effect.promise(() => client.closed)).toMatchObject({ code: 1000 })
        yield* Effect.promise(() => fake.waitFor(() => fake.openSockets() === 0, 30_000))

        // A key with no counted limit has its rows written in the background, beside the stream.
        const rows = yield* eventually(
          sql`SELECT id FROM requests WHERE key_id = ${pool.key.slice(4, 20)} ORDER BY started_at`,
          (found) => found.length >= 2
        )
        expect(rows).toHaveLength(2)
        const last = yield* settledRow(String(rows[1]?.["id"]))
        expect(last).toMatchObject({
          status: "succeeded",
          transport: "websocket",
          accountId: account?.id,
          inputTokens: "1234"
        })
      }))

    it.effect("upstream refusing websockets (426 or 404) is answered 426 so Codex switches to HTTP at once", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        for (const fault of ["ws_426", "ws_404"] as const) {
          fake.fault(pool.accounts[0]!.fake.accountId, fault)
          const answer = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
          expect(answer).toMatchObject({ status: 426 })
        }
      }))

    it.effect("a client that stops reading while upstream floods holds the gateway to a fixed number of buffered bytes", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const bridge = yield* WebSocketBridge
        const pool = yield* setupPool(1)
        const client = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
        if (!("socket" in client)) return expect.fail("upgrade refused")
        const frameBytes = 1024 * 1024
        fake.fault(pool.accounts[0]!.fake.accountId, { kind: "flood", frames: 48, bytes: frameBytes })
        bridge.stats.maxBuffered = 0
        bridge.stats.maxQueued = 0
        client.socket.pause()
        client.socket.send(create())
        yield* Effect.promise(() => fake.waitFor(() => bridge.stats.maxBuffered >= highWaterMark, 20_000))
        // 48 MiB were sent at the gateway; what it holds for the stalled reader stays under the high-water mark plus
        // the frame that crossed it, and its stream's queue under the queue limit plus the frame that crossed that.
        yield* Effect.sleep("500 millis")
        expect(bridge.stats.maxBuffered).toBeLessThanOrEqual(highWaterMark + frameBytes + 1024)
        expect(bridge.stats.maxQueued).toBeLessThanOrEqual(queueLimit + frameBytes + 1024)
        client.socket.resume()
        yield* Effect.promise(() => client.next("response.completed"))
        expect(client.frames.filter((frame) => frame.type === "response.output_text.delta")).toHaveLength(48)
        client.socket.close()
      }))

    it.effect("an upstream close reaches the client with its code, after the frame that explains it", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const client = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
        if (!("socket" in client)) return expect.fail("upgrade refused")
        fake.fault(pool.accounts[0]!.fake.accountId, "ws_connection_limit")
        client.socket.send(create())
        expect(yield* Effect.promise(() => client.closed)).toMatchObject({ code: 1000 })
        expect(client.frames.at(-1)).toMatchObject({
          type: "error",
          error: { code: "websocket_connection_limit_reached" }
        })
      }))

    it.effect("a client that vanishes (no close frame) gets its upstream socket closed", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const before = fake.openSockets()
        const client = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
        if (!("socket" in client)) return expect.fail("upgrade refused")
        yield* Effect.promise(() => fake.waitFor(() => fake.openSockets() === before + 1, 30_000))
        client.socket.terminate()
        yield* Effect.promise(() => fake.waitFor(() => fake.openSockets() === before, 30_000))
        expect(fake.openSockets()).toBe(before)
      }))

    it.effect("an upstream 401 on the upgrade refreshes the account once and connects", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        fake.expireAccessToken(pool.accounts[0]!.fake.accountId)
        const client = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
        expect("socket" in client).toBe(true)
        expect(fake.refreshCalls.map((call) => call.reason)).toEqual(["unauthorized_recovery"])
        expect(upgradeStatuses(fake.requests)).toEqual([401, 101])
        if ("socket" in client) client.socket.close()
      }))

    // The same failover as an HTTP request's: a limit (429) or an upstream failure (5xx) on the upgrade moves the
    // socket to the next eligible account before Codex hears of it.
    for (
      const [what, fault, status] of [
        ["an account at its usage limit", { kind: "usage_limit", onUpgrade: true }, 429],
        ["an upstream failure (5xx)", { kind: "http_500", status: 503, onUpgrade: true }, 503]
      ] as const
    ) {
      it.effect(`${what} on the upgrade is passed over for the next eligible account`, () =>
        Effect.gen(function*() {
          const fake = yield* Fake
          const pool = yield* setupPool(2)
          const [first, second] = [pool.accounts[0]!, pool.accounts[1]!]
          // the second was used last, so the first is tried first
          yield* firstInLine(pool)
          fake.reset()
          fake.fault(first.fake.accountId, fault)
          const client = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
          expect("socket" in client).toBe(true)
          expect(
            fake.requests.filter((request) => request.kind === "ws-upgrade").map((
              request
            ) => [request.accountId, request.status ?? 101])
          ).toEqual([[first.fake.accountId, status], [second.fake.accountId, 101]])
          if ("socket" in client) client.socket.close()
        }))
    }

    it.effect("when every account is at its limit, Codex gets the 429 body it reads", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.fault(pool.accounts[0]!.fake.accountId, { kind: "usage_limit", onUpgrade: true })
        const answer = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
        expect(answer).toMatchObject({ status: 429 })
        expect("body" in answer && JSON.parse(answer.body)).toMatchObject({
          error: { type: "usage_limit_reached", plan_type: "pro" }
        })
      }))

    it.effect("a revoked key closes its open socket with 1008", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const client = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
        if (!("socket" in client)) return expect.fail("upgrade refused")
        yield* (yield* PoolKeys).revoke(pool.key.slice(4, 20))
        expect(yield* Effect.promise(() => client.closed)).toMatchObject({ code: 1008 })
      }))

    it.effect("a codex.rate_limits frame saying the limit is reached rests the account", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(1)
        const account = pool.accounts[0]!
        fake.setRateLimits(account.fake.accountId, { primaryUsedPercent: 100, primaryResetAfterSeconds: 3600 })
        const client = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
        if (!("socket" in client)) return expect.fail("upgrade refused")
        client.socket.send(create())
        yield* Effect.promise(() => client.next("response.completed"))
        // The frame reached Codex untouched.
        expect(client.frames.find((frame) => frame.type === "codex.rate_limits")).toMatchObject({
          rate_limits: { limit_reached: true }
        })
        const resting =
          sql`SELECT cooldown_reason FROM account_health WHERE account_id = ${account.id} AND cooldown_until > now() + interval '50 minutes'`
        expect(
          yield* eventually(resting, (rows) => rows.length > 0)
        ).toEqual([{ cooldownReason: "usage_limit" }])
        client.socket.close()
      }))

    it.effect("a paused account closes its open socket with 1008", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const client = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
        if (!("socket" in client)) return expect.fail("upgrade refused")
        yield* (yield* Accounts).pause(pool.accounts[0]!.id)
        expect(yield* Effect.promise(() => client.closed)).toMatchObject({ code: 1008 })
      }))
  })
})

describe("websocket idle timeout", () => {
  layer(gatewayLayer("pglite", { CODEX_POOLER_WS_IDLE_TIMEOUT_MS: "300" }), {
    excludeTestServices: true,
    timeout: 60_000
  })((it) => {
    it.effect("a bridge with no frames either way for the idle timeout is closed on both sides", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const client = yield* open(yield* gatewayUrl, wsHeaders(pool.key))
        if (!("socket" in client)) return expect.fail("upgrade refused")
        expect(yield* Effect.promise(() => client.closed)).toEqual({ code: 1000, reason: "idle timeout" })
        yield* Effect.promise(() => fake.waitFor(() => fake.openSockets() === 0, 30_000))
        expect(fake.openSockets()).toBe(0)
      }))
  })
})

describe("websocket drain", () => {
  it.scopedLive(
    "stopping the gateway moves an idle socket at once and a busy one right after its response (1012)",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        // A grace period far past the test's own timeout: stopping can only finish by the sockets having moved.
        const context = yield* Layer.buildWithScope(
          gatewayLayer("pglite", { CODEX_POOLER_SHUTDOWN_GRACE_MS: "3600000" }),
          scope
        )
        const fake = Context.get(context, Fake)
        const pool = yield* Effect.provide(setupPool(1), context)
        const url = yield* Effect.provide(gatewayUrl, context)
        const idle = yield* open(url, wsHeaders(pool.key, "thread-idle"))
        const busy = yield* open(url, wsHeaders(pool.key, "thread-busy"))
        if (!("socket" in idle) || !("socket" in busy)) return expect.fail("upgrade refused")
        idle.socket.send(create())
        yield* Effect.promise(() => idle.next("response.completed"))

        // The busy socket's response is held upstream until the idle one has moved.
        const response = yield* held
        fake.fault(pool.accounts[0]!.fake.accountId, response.fault)
        busy.socket.send(create())
        yield* Effect.promise(() => busy.next("response.created"))
        const stopping = yield* Effect.fork(Scope.close(scope, Exit.void))

        const idleClosed = yield* Effect.promise(() => idle.closed)
        expect(idleClosed).toEqual({ code: 1012, reason: "gateway restarting" })
        expect(busy.frames.some((frame) => frame.type === "response.completed")).toBe(false)
        response.release()
        expect(yield* Effect.promise(() => busy.closed)).toEqual({ code: 1012, reason: "gateway restarting" })
        // The busy socket's response reached Codex whole before the socket was closed.
        expect(busy.frames.at(-1)?.type).toEqual("response.completed")
        // Stopping finishes once both sockets have gone, not when the grace period runs out.
        yield* Fiber.join(stopping)
      }),
    60_000
  )
})
