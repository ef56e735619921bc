import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { Deferred, Effect, Schedule } from "effect"
import WebSocket from "ws"
import { PoolKeys } from "../src/PoolKeys.ts"
import { makeWatch } from "../src/Proxy/WebSocket/Watch.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, postResponses, setupPool } from "./support/Gateway.ts"
import { protocolViolations } from "./support/ProtocolViolations.ts"
import { closeCodeOf, frame, opcodes, type RawClient, rawUpgrade } from "./support/RawWebSocket.ts"
import { codexHeaders, responsesBody, send } from "./support/Requests.ts"
import { eventually } from "./support/Rows.ts"

const path = "/backend-api/codex/responses"

const wsHeaders = (key: string) => ({ ...codexHeaders(key), "openai-beta": "responses_websockets=2026-02-06" })

const create = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: "response.create", ...responsesBody(), ...extra })

const keyIdOf = (key: string) => key.slice(4, 20)

interface Client {
  readonly socket: WebSocket
  readonly frames: Array<Record<string, unknown>>
  readonly closed: Promise<{ readonly code: number }>
  // sends a frame and waits for the frame that ends its answer: response.completed or an error
  readonly turn: (data: string | Buffer, binary?: boolean) => Promise<Record<string, unknown>>
}

const open = (url: string, key: string) =>
  Effect.promise(() =>
    new Promise<Client>((resolve, reject) => {
      const socket = new WebSocket(`${url.replace(/^http/, "ws")}${path}`, { headers: wsHeaders(key) })
      const frames: Array<Record<string, unknown>> = []
      const waiters: Array<() => void> = []
      socket.on("error", reject)
      socket.on("message", (data) => {
        frames.push(JSON.parse(data.toString()))
        for (const waiter of waiters.splice(0)) waiter()
      })
      const closed = new Promise<{ code: number }>((done) => socket.on("close", (code) => done({ code })))
      const turn = (data: string | Buffer, binary = false) =>
        new Promise<Record<string, unknown>>((done) => {
          const seen = frames.length
          const check = () => {
            const found = frames.slice(seen).find((one) =>
              one["type"] === "response.completed" || one["type"] === "error"
            )
            if (found !== undefined) done(found)
            else waiters.push(check)
          }
          waiters.push(check)
          socket.send(data, { binary })
        })
      socket.on("open", () => resolve({ socket, frames, closed, turn }))
    })
  )

const raw = (key: string) =>
  Effect.flatMap(gatewayUrl, (url) => Effect.promise(() => rawUpgrade(url, path, wsHeaders(key))))

const nextClose = (client: RawClient) => Effect.promise(() => client.next((one) => one.opcode === opcodes.close))

// Client frames upstream has seen since `from` (an index into the fake's record).
const framesUpstream = (fake: Fake["Type"], from: number) =>
  fake.requests.slice(from).filter((request) => request.kind === "ws-in")

const rowsOf = (key: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT id FROM requests WHERE key_id = ${keyIdOf(key)}`)

describe.each(backends)("hostile websocket clients on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("a frame that breaks RFC 6455 ends its own socket with the RFC's code and its upstream socket; the gateway serves on", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const bystander = yield* open(yield* gatewayUrl, pool.key)
        for (const [, bytes, code] of protocolViolations) {
          const before = fake.openSockets()
          const client = yield* raw(pool.key)
          expect(client.status).toBe(101)
          yield* Effect.promise(() => fake.waitFor(() => fake.openSockets() === before + 1, 5_000))
          client.socket.write(bytes)
          expect(closeCodeOf(yield* nextClose(client))).toBe(code)
          yield* Effect.promise(() => client.closed)
          yield* Effect.promise(() => fake.waitFor(() => fake.openSockets() === before, 5_000))
        }
        const url = yield* gatewayUrl
        expect((yield* send(`${url}/healthz`)).status).toBe(200)
        expect((yield* postResponses(pool.key)).status).toBe(200)
        // another socket of the same key, open all along, still works
        expect(yield* Effect.promise(() => bystander.turn(create()))).toMatchObject({ type: "response.completed" })
        bystander.socket.close()
      }))

    it.effect("frames are gated on their parsed type and model: on an rpm 1 key only the admitted one goes upstream", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        yield* (yield* PoolKeys).setLimits(keyIdOf(pool.key), { requestsPerMinute: 1 })
        const client = yield* open(yield* gatewayUrl, pool.key)
        const from = fake.requests.length
        expect(yield* Effect.promise(() => client.turn(create()))).toMatchObject({ type: "response.completed" })
        const { model, ...rest } = responsesBody()
        const evasions = [
          JSON.stringify({ model, type: "response.create", ...rest }),
          ` ${create()}`,
          `\n\t{ "type" : "response.create", ${JSON.stringify(responsesBody()).slice(1)}`,
          JSON.stringify({ type: "response.create", padding: "x".repeat(5000), ...responsesBody() })
        ]
        for (const evasion of evasions) {
          const answer = yield* Effect.promise(() => client.turn(evasion))
          expect(answer).toMatchObject({ type: "error", status: 429, error: { code: "key_requests_per_minute" } })
        }
        expect(framesUpstream(fake, from)).toHaveLength(1)
        expect(yield* rowsOf(pool.key)).toHaveLength(1)
        client.socket.close()
      }))

    it.effect("frames are gated on their parsed type and model: an allowed-models key, decoys and frames that are not JSON objects", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        yield* (yield* PoolKeys).setLimits(keyIdOf(pool.key), { allowedModels: ["gpt-5.5"] })
        const client = yield* open(yield* gatewayUrl, pool.key)
        const from = fake.requests.length
        const { model: _, ...rest } = responsesBody()
        const forbidden = [
          JSON.stringify({
            type: "response.create",
            client_metadata: { model: "gpt-5.5" },
            model: "gpt-forbidden",
            ...rest
          }),
          JSON.stringify({ type: "response.create", padding: "x".repeat(5000), ...rest, model: "gpt-forbidden" })
        ]
        for (const frame of forbidden) {
          expect(yield* Effect.promise(() => client.turn(frame))).toMatchObject({
            type: "error",
            status: 403,
            error: { code: "model_not_allowed" }
          })
        }
        const invalid: ReadonlyArray<readonly [string | Buffer, boolean]> = [
          [`{"type":"response.create","model":"gpt-forbidden","model":"gpt-5.5","input":[]}`, false],
          [JSON.stringify({ type: "response.create", ...rest }), false],
          [JSON.stringify({ type: "response.create", ...rest, model: ["gpt-5.5"] }), false],
          [JSON.stringify({ type: "response.create", ...rest, model: "m".repeat(1000) }), false],
          ["{\"type\":\"response.create\",\"model\":\"gpt-5.5\"", false],
          ["[{\"type\":\"response.create\",\"model\":\"gpt-5.5\"}]", false],
          ["\"response.create\"", false],
          [JSON.stringify({ model: "gpt-forbidden", input: [] }), false],
          [Buffer.from(create()), true]
        ]
        for (const [frame, binary] of invalid) {
          expect(yield* Effect.promise(() => client.turn(frame, binary))).toMatchObject({
            type: "error",
            status: 400,
            error: { code: "invalid_frame" }
          })
        }
        expect(framesUpstream(fake, from)).toHaveLength(0)
        expect(yield* Effect.promise(() => client.turn(create()))).toMatchObject({ type: "response.completed" })
        expect(framesUpstream(fake, from)).toHaveLength(1)
        // allowedModels counts nothing, so the row is written in the background, beside the stream
        expect(yield* eventually(rowsOf(pool.key), (rows) => rows.length > 0)).toHaveLength(1)
        client.socket.close()
      }))

    it.effect("an upgrade ws would refuse is refused before upstream is connected: no upstream socket is left", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const url = yield* gatewayUrl
        const before = fake.openSockets()
        const from = fake.requests.length
        const crafted = [
          ...Array.from({ length: 10 }, () => ({ key: null })),
          { key: "short" },
          { version: "8" },
          { version: null },
          { method: "POST" }
        ]
        const answers = yield* Effect.forEach(crafted, (options) =>
          Effect.promise(async () => {
            const answer = await rawUpgrade(url, path, wsHeaders(pool.key), options)
            return { status: answer.status, body: await answer.body }
          }))
        expect(fake.requests.slice(from).filter((request) => request.kind === "ws-upgrade")).toHaveLength(0)
        expect(fake.openSockets()).toBe(before)
        for (const answer of answers) {
          expect(answer.status).toBeGreaterThanOrEqual(400)
          expect(answer.status).toBeLessThan(500)
          expect(JSON.parse(answer.body)).toMatchObject({ error: { type: "invalid_request_error" } })
        }
      }))

    it.effect("a key's max-concurrent limit bounds its open websockets", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        yield* (yield* PoolKeys).setLimits(keyIdOf(pool.key), { maxConcurrent: 1 })
        const url = yield* gatewayUrl
        const first = yield* raw(pool.key)
        expect(first.status).toBe(101)
        const second = yield* raw(pool.key)
        expect(second.status).toBe(429)
        expect(JSON.parse(yield* Effect.promise(() => second.body))).toMatchObject({
          error: { code: "key_open_websockets" }
        })
        first.socket.destroy()
        yield* Effect.promise(() => first.closed)
        // the slot is given back once the first socket is gone
        const third = yield* Effect.promise(() => rawUpgrade(url, path, wsHeaders(pool.key))).pipe(
          Effect.filterOrFail((client) => client.status === 101),
          Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(50)))),
          Effect.orDie
        )
        third.socket.destroy()
      }))

    it.effect("an upgrade on a route with no websocket is refused, and only the exact websocket path is bridged", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const url = yield* gatewayUrl
        const from = fake.requests.length
        for (
          const other of [
            "/backend-api/codex/models",
            "/backend-api/codex/RESPONSES",
            `${path};x=y`,
            `${path}/`,
            "/healthz"
          ]
        ) {
          const answer = yield* Effect.promise(() => rawUpgrade(url, other, wsHeaders(pool.key)))
          expect(answer.status).toBe(400)
          expect(JSON.parse(yield* Effect.promise(() => answer.body))).toMatchObject({
            error: { code: "websocket_not_supported" }
          })
        }
        expect(fake.requests.slice(from)).toHaveLength(0)
      }))

    it.effect("limits set while a socket is open apply to its next response.create", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const client = yield* open(yield* gatewayUrl, pool.key)
        expect(yield* Effect.promise(() => client.turn(create()))).toMatchObject({ type: "response.completed" })
        yield* (yield* PoolKeys).setLimits(keyIdOf(pool.key), { allowedModels: ["another-model"] })
        // PoolAuth remembers a key for 2 s: within a bounded number of turns the new limit must hold.
        const refused = yield* Effect.promise(() => client.turn(create())).pipe(
          Effect.filterOrFail((answer) => answer["type"] === "error"),
          Effect.retry(Schedule.spaced("400 millis").pipe(Schedule.intersect(Schedule.recurs(20)))),
          Effect.option
        )
        expect(refused._tag === "Some" && refused.value).toMatchObject({
          status: 403,
          error: { code: "model_not_allowed" }
        })
        client.socket.close()
      }))

    it.effect("revocation stops a client that never answers the close: nothing more goes upstream and its connection ends", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const before = fake.openSockets()
        const client = yield* raw(pool.key)
        yield* Effect.promise(() => fake.waitFor(() => fake.openSockets() === before + 1, 5_000))
        yield* (yield* PoolKeys).revoke(keyIdOf(pool.key))
        expect(closeCodeOf(yield* nextClose(client))).toBe(1008)
        const from = fake.requests.length
        for (let sent = 0; sent < 3; sent++) client.socket.write(frame(opcodes.text, create()))
        // ws alone waits 30 s for the close to be answered; the gateway cuts the connection well before.
        const ended = yield* Effect.promise(() => client.closed).pipe(Effect.timeoutOption("15 seconds"))
        expect(ended._tag).toBe("Some")
        yield* Effect.promise(() => fake.waitFor(() => fake.openSockets() === before, 5_000))
        expect(framesUpstream(fake, from)).toHaveLength(0)
      }))
  })
})

describe("websocket frame limit", () => {
  layer(gatewayLayer("pglite", { CODEX_POOLER_MAX_BODY_BYTES: "65536" }), {
    excludeTestServices: true,
    timeout: 60_000
  })((it) => {
    it.effect("a client frame over CODEX_POOLER_MAX_BODY_BYTES closes the socket with 1009 and nothing goes upstream", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const client = yield* raw(pool.key)
        const from = fake.requests.length
        client.socket.write(
          frame(opcodes.text, JSON.stringify({ type: "response.create", ...responsesBody("x".repeat(70_000)) }))
        )
        expect(closeCodeOf(yield* nextClose(client))).toBe(1009)
        yield* Effect.promise(() => client.closed)
        expect(framesUpstream(fake, from)).toHaveLength(0)
      }))

    it.effect("an upstream frame over the limit is not relayed: the client's socket is closed", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const client = yield* open(yield* gatewayUrl, pool.key)
        fake.fault(pool.accounts[0]!.fake.accountId, { kind: "flood", frames: 1, bytes: 70_000 })
        client.socket.send(create())
        expect(yield* Effect.promise(() => client.closed)).toEqual({ code: 1011 })
        expect(client.frames.some((one) => one["type"] === "response.output_text.delta")).toBe(false)
      }))
  })
})

describe("websockets per key", () => {
  layer(gatewayLayer("pglite", { CODEX_POOLER_MAX_WEBSOCKETS_PER_KEY: "2" }), {
    excludeTestServices: true,
    timeout: 60_000
  })((it) => {
    it.effect("a key holds at most CODEX_POOLER_MAX_WEBSOCKETS_PER_KEY open sockets; another key is not affected", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const other = yield* setupPool(1)
        const before = fake.openSockets()
        const opened = [yield* raw(pool.key), yield* raw(pool.key)]
        expect(opened.map((client) => client.status)).toEqual([101, 101])
        const refused = yield* raw(pool.key)
        expect(refused.status).toBe(429)
        expect(JSON.parse(yield* Effect.promise(() => refused.body))).toMatchObject({
          error: { code: "key_open_websockets" }
        })
        const another = yield* raw(other.key)
        expect(another.status).toBe(101)
        expect(fake.openSockets()).toBe(before + 3)
        for (const client of [...opened, another]) client.socket.destroy()
      }))
  })
})

describe("websocket watch", () => {
  it.live("a round that dies (the database gone) is logged and the watch goes on: a later revocation still closes", () =>
    Effect.gen(function*() {
      let calls = 0
      let revoked = false
      const closed = yield* Deferred.make<void>()
      const watcher = yield* makeWatch({
        keyValid: () => {
          calls++
          if (calls === 1) return Effect.die({ _tag: "SqlError", message: "connection refused" })
          return revoked ? Effect.fail("revoked") : Effect.void
        },
        accountUsable: () => Effect.void,
        interval: "20 millis"
      })
      yield* watcher.watch({
        authorization: "Bearer cpk_x",
        accountId: "acct_1",
        close: () => Deferred.unsafeDone(closed, Effect.void)
      })
      yield* Effect.sleep("20 millis").pipe(Effect.repeat({ until: () => calls >= 3 }), Effect.timeout("5 seconds"))
      expect(yield* Deferred.isDone(closed)).toBe(false)
      revoked = true
      yield* Deferred.await(closed).pipe(Effect.timeout("5 seconds"))
    }).pipe(Effect.scoped))
})

describe("client frames", () => {
  it("are judged on their parsed top level, whatever the order, spacing or escapes", async () => {
    // imported here so that the rest of this file also runs where the parser does not exist (commit 93af2ee)
    const { readClientFrame } = await import("../src/Proxy/WebSocket/ClientFrames.ts")
    const read = (text: string) => readClientFrame(Buffer.from(text), false)._tag
    expect(readClientFrame(Buffer.from(`{"model":"m","type":"response.create"}`), false)).toEqual({
      _tag: "Create",
      model: "m"
    })
    expect(read(`\r\n {"type" : "response\\u002ecreate", "model":"m"}`)).toBe("Create")
    expect(read(`{"type":"response.interrupt","response_id":"resp_1"}`)).toBe("Other")
    // a key seen twice, however it is spelled, is refused; the same key at another depth is not a repeat
    expect(read(`{"type":"response.create","model":"a","mo\\u0064el":"b"}`)).toBe("Refused")
    expect(read(`{"type":"response.create","model":"a","input":[{"model":"b","x":{"model":"c"}}]}`)).toBe("Create")
    expect(read(`{"type":"response.create","model":"a","s":"\\"model\\":{,[\\\\","t":"}"}`)).toBe("Create")
    expect(read(`{"type":"response.create","s":"\\\\","model":"a","model":"b"}`)).toBe("Refused")
  })
})
