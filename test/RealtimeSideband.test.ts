import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Scope } from "effect"
import { Accounts } from "../src/Accounts.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { realtimePath } from "../src/Proxy/WebSocket/Sideband.ts"
import type { FakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import { backends } from "./support/Databases.ts"
import {
  Fake,
  firstInLine,
  gatewayLayer,
  gatewayUrl,
  setupPool,
  sharedPostgres,
  type TestPool
} from "./support/Gateway.ts"
import { codexHeaders, send } from "./support/Requests.ts"
import { eventually } from "./support/Rows.ts"
import { type Client, connectWebSocket, type Refused } from "./support/WebSocketClient.ts"

const maxBodyBytes = 65_536

// What Codex 0.169 sends on POST /realtime/calls (a JSON offer, codex-protocol.md §8) and on its sideband join.
const offer = { sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n", session: { type: "quicksilver" } }
const joinHeaders = (key: string) => ({ authorization: `Bearer ${key}`, "x-session-id": "sess-voice-1" })

const makeCall = (origin: string, key: string) =>
  Effect.gen(function*() {
    const answer = yield* send(`${origin}/backend-api/codex/realtime/calls?intent=quicksilver&architecture=avas`, {
      method: "POST",
      headers: { ...codexHeaders(key, "thread-voice"), "openai-alpha": "quicksilver=v1" },
      body: JSON.stringify(offer)
    })
    expect(answer.status).toBe(201)
    const callId = (answer.headers.get("location") ?? "").split("/").at(-1) ?? ""
    expect(callId).toMatch(/^rtc_fake_\d+$/)
    return callId
  })

const join = (origin: string, query: string, headers: Record<string, string>) =>
  connectWebSocket(`${origin.replace(/^http/, "ws")}${realtimePath}${query}`, headers)

const joined = (answer: Client | Refused) =>
  "socket" in answer ? Effect.succeed(answer) : Effect.dieMessage(`join refused: ${JSON.stringify(answer)}`)

const refused = (answer: Client | Refused) => {
  if ("socket" in answer) {
    answer.socket.terminate()
    return { status: 101, code: "" }
  }
  return { status: answer.status, code: String(JSON.parse(answer.body).error.code) }
}

const upstreamJoins = (fake: FakeUpstream) =>
  fake.requests.filter((request) => request.kind === "ws-upgrade" && request.path === "/v1/realtime")

// Who made the call, as the gateway bound it.
const boundCall = (callId: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`SELECT pool_id, account_id, key_id FROM realtime_calls WHERE call_id = ${callId}`
  )

const keyIdOf = (key: string) => key.slice(4, 20)

// A fresh Pool of one account with a call made through the in-process gateway; `join` joins it with the Pool's key.
const oneCall = Effect.gen(function*() {
  const fake = yield* Fake
  const origin = yield* gatewayUrl
  const pool = yield* setupPool(1)
  const callId = yield* makeCall(origin, pool.key)
  const joinCall = (query = `?call_id=${callId}`, headers: Record<string, string> = joinHeaders(pool.key)) =>
    join(origin, query, headers)
  return { fake, pool, callId, join: joinCall } as const
})

// session.update out, session.updated back; a text item out, its transcript back.
const talk = (client: Client) =>
  Effect.promise(async () => {
    client.socket.send(JSON.stringify({ type: "session.update", session: { instructions: "be brief" } }))
    await client.next("session.updated")
    client.socket.send(
      JSON.stringify({
        type: "conversation.item.create",
        item: { type: "message", role: "user", content: [{ type: "input_text", text: "hello" }] }
      })
    )
    await client.next("conversation.output_transcript.done")
    return client.frames
  })

const closedRow = (keyId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    eventually(
      sql`SELECT route, transport, status, http_status, account_id, error_code FROM requests
        WHERE key_id = ${keyId} AND route = 'realtime_sideband'`,
      (rows) => rows.length > 0 && rows.every((row) => row["status"] !== "in_progress")
    ))

describe.each(backends)("realtime sideband on %s", (backend) => {
  layer(gatewayLayer(backend, { CODEX_POOLER_MAX_BODY_BYTES: String(maxBodyBytes) }), {
    excludeTestServices: true,
    timeout: 60_000
  })((it) => {
    it.effect("a call is joined on the account that made it, whoever is next in line; frames pass both ways", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const origin = yield* gatewayUrl
        const pool = yield* setupPool(2)
        const [maker, other] = [pool.accounts[0]!, pool.accounts[1]!]
        yield* firstInLine(pool)
        const callId = yield* makeCall(origin, pool.key)
        expect(yield* boundCall(callId)).toEqual([{
          poolId: pool.poolId,
          accountId: maker.id,
          keyId: keyIdOf(pool.key)
        }])
        // The other account is next in line now: a join that followed selection would land there.
        yield* firstInLine({ ...pool, accounts: [other, maker] })
        fake.reset()
        const client = yield* joined(
          yield* join(origin, `?intent=quicksilver&call_id=${callId}&model=x`, joinHeaders(pool.key))
        )
        const upstream = upstreamJoins(fake)
        expect(upstream).toHaveLength(1)
        expect(upstream[0]).toMatchObject({
          accountId: maker.fake.accountId,
          query: { intent: "quicksilver", call_id: callId },
          status: 101
        })
        expect(upstream[0]?.headers["authorization"]).toBe(`Bearer ${maker.fake.accessToken}`)
        expect(upstream[0]?.headers["x-session-id"]).toBe("sess-voice-1")
        expect(JSON.stringify(upstream[0])).not.toContain(pool.key.slice(-43))

        const frames = yield* talk(client)
        expect(frames).toEqual([
          { type: "session.updated", session: { id: expect.stringMatching(/^sess_fake_/), instructions: "be brief" } },
          { type: "conversation.output_transcript.delta", delta: "hi" },
          { type: "conversation.output_transcript.done", text: "hi" }
        ])
        // Upstream saw Codex's frames as they were sent.
        expect(fake.requests.filter((request) => request.kind === "ws-in").map((request) => request.body)).toEqual([
          { type: "session.update", session: { instructions: "be brief" } },
          {
            type: "conversation.item.create",
            item: { type: "message", role: "user", content: [{ type: "input_text", text: "hello" }] }
          }
        ])
        client.socket.close(1000, "call over")
        expect(yield* Effect.promise(() => client.closed)).toMatchObject({ code: 1000 })
        expect(yield* closedRow(keyIdOf(pool.key))).toEqual([{
          route: "realtime_sideband",
          transport: "websocket",
          status: "succeeded",
          httpStatus: 101,
          accountId: maker.id,
          errorCode: null
        }])
      }))

    it.effect("the join goes where the database binds the call", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const origin = yield* gatewayUrl
        const pool = yield* setupPool(2)
        yield* firstInLine(pool)
        const callId = yield* makeCall(origin, pool.key)
        const other = pool.accounts[1]!
        yield* sql`UPDATE realtime_calls SET account_id = ${other.id} WHERE call_id = ${callId}`
        fake.reset()
        // The other account did not make the call: upstream refuses its join, and Codex hears that as it came.
        expect(refused(yield* join(origin, `?call_id=${callId}`, joinHeaders(pool.key)))).toEqual({
          status: 404,
          code: "call_not_found"
        })
        expect(upstreamJoins(fake).map((request) => request.accountId)).toEqual([other.fake.accountId])
      }))

    it.effect("an unknown, expired or other Pool's call is the same 404, and nothing reaches upstream", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const origin = yield* gatewayUrl
        const [pool, stranger] = [yield* setupPool(1), yield* setupPool(1)]
        const callId = yield* makeCall(origin, pool.key)
        const expired = yield* makeCall(origin, pool.key)
        yield* sql`UPDATE realtime_calls SET expires_at = now() - interval '1 second' WHERE call_id = ${expired}`
        fake.reset()
        const answers = [
          yield* join(origin, "?call_id=rtc_never_made", joinHeaders(pool.key)),
          yield* join(origin, `?call_id=${expired}`, joinHeaders(pool.key)),
          yield* join(origin, `?call_id=${callId}`, joinHeaders(stranger.key))
        ]
        const bodies = answers.map((answer) => "body" in answer ? answer.body : "joined")
        expect(answers.map(refused)).toEqual(Array(3).fill({ status: 404, code: "realtime_call_not_found" }))
        expect(new Set(bodies).size).toBe(1)
        expect(fake.requests).toHaveLength(0)
        // the call itself is still there for its own Pool
        const client = yield* joined(yield* join(origin, `?call_id=${callId}`, joinHeaders(pool.key)))
        client.socket.close()
      }))

    it.effect("a missing, repeated or malformed call_id is a 400; no key or a bad one is a 401; none reach upstream", () =>
      Effect.gen(function*() {
        const { callId, fake, join, pool } = yield* oneCall
        fake.reset()
        for (
          const query of [
            "",
            "?intent=quicksilver",
            `?call_id=${callId}&call_id=${callId}`,
            "?call_id=",
            "?call_id=rtc%20x",
            "?call_id=rtc_x/../y",
            `?call_id=${"r".repeat(129)}`,
            `?call_id=${callId}&intent=quick%20silver`
          ]
        ) {
          expect([query, refused(yield* join(query))]).toEqual([
            query,
            { status: 400, code: "invalid_query" }
          ])
        }
        for (const headers of [{}, joinHeaders(`${pool.key}x`)]) {
          expect(refused(yield* join(`?call_id=${callId}`, headers))).toEqual({ status: 401, code: "invalid_api_key" })
        }
        // only the exact path joins a call
        for (const other of [`/?call_id=${callId}`, `;x?call_id=${callId}`]) {
          expect(refused(yield* join(other))).toEqual({ status: 400, code: "websocket_not_supported" })
        }
        expect(fake.requests).toHaveLength(0)
      }))

    it.effect("an upstream 401 on the join refreshes the account's token once, and the join goes on", () =>
      Effect.gen(function*() {
        const { fake, join, pool } = yield* oneCall
        fake.expireAccessToken(pool.accounts[0]!.fake.accountId)
        fake.reset()
        const client = yield* joined(yield* join())
        expect(fake.refreshCalls.map((call) => call.reason)).toEqual(["unauthorized_recovery"])
        expect(upstreamJoins(fake).map((request) => request.status)).toEqual([401, 101])
        expect(upstreamJoins(fake).at(-1)?.headers["authorization"]).toBe(
          `Bearer ${fake.account(pool.accounts[0]!.fake.accountId).accessToken}`
        )
        client.socket.close()
      }))

    it.effect("a paused account refuses the join before upstream", () =>
      Effect.gen(function*() {
        const { fake, join, pool } = yield* oneCall
        yield* (yield* Accounts).pause(pool.accounts[0]!.id)
        fake.reset()
        expect(refused(yield* join())).toEqual({ status: 503, code: "no_account_available" })
        expect(fake.requests).toHaveLength(0)
      }))

    it.effect("revoking the key closes the open sideband with 1008, and upstream's socket with it", () =>
      Effect.gen(function*() {
        const { fake, join, pool } = yield* oneCall
        const before = fake.openSockets()
        const client = yield* joined(yield* join())
        yield* Effect.promise(() => fake.waitFor(() => fake.openSockets() === before + 1, 30_000))
        yield* (yield* PoolKeys).revoke(keyIdOf(pool.key))
        expect(yield* Effect.promise(() => client.closed)).toMatchObject({ code: 1008 })
        yield* Effect.promise(() => fake.waitFor(() => fake.openSockets() === before, 30_000))
        expect(yield* closedRow(keyIdOf(pool.key))).toMatchObject([{
          status: "cancelled",
          errorCode: "gateway_closed"
        }])
      }))

    it.effect("a frame over the body limit closes the socket with 1009 and never reaches upstream", () =>
      Effect.gen(function*() {
        const { fake, join } = yield* oneCall
        const client = yield* joined(yield* join())
        fake.reset()
        client.socket.send(JSON.stringify({ type: "input_audio_buffer.append", audio: "A".repeat(maxBodyBytes) }))
        expect(yield* Effect.promise(() => client.closed)).toMatchObject({ code: 1009 })
        expect(fake.requests.filter((request) => request.kind === "ws-in")).toHaveLength(0)
      }))
  })
})

describe("realtime sideband drain", () => {
  it.scopedLive("stopping the gateway closes an open sideband at once with 1012", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      // A grace period far past the test's own timeout: stopping can only finish by the socket having gone.
      const context = yield* Layer.buildWithScope(
        gatewayLayer("pglite", { CODEX_POOLER_SHUTDOWN_GRACE_MS: "3600000" }),
        scope
      )
      const { join } = yield* Effect.provide(oneCall, context)
      const client = yield* joined(yield* join())
      const stopping = yield* Effect.fork(Scope.close(scope, Exit.void))
      expect(yield* Effect.promise(() => client.closed)).toEqual({ code: 1012, reason: "gateway restarting" })
      // Stopping finishes once the socket has gone, not when the grace period runs out.
      yield* Fiber.join(stopping)
    }), 60_000)
})

// Instances share calls through PostgreSQL; embedded PGlite is one process's database by design.
if (backends.includes("postgres")) {
  describe("realtime sideband across two gateway instances on one PostgreSQL", () => {
    it.scopedLive(
      "a call made through one instance is joined through the other, on the account that made it",
      () =>
        Effect.gen(function*() {
          const { fake, instance, manage } = yield* sharedPostgres({})
          const [one, two] = [yield* instance, yield* instance]
          const pool: TestPool = yield* manage(setupPool(2).pipe(Effect.provideService(Fake, fake)))
          const callId = yield* makeCall(one, pool.key)
          const [bound] = yield* manage(boundCall(callId))
          const maker = pool.accounts.find((account) => account.id === bound?.["accountId"])
          expect(maker).toBeDefined()
          fake.reset()
          const client = yield* joined(yield* join(two, `?intent=quicksilver&call_id=${callId}`, joinHeaders(pool.key)))
          expect(upstreamJoins(fake)).toMatchObject([{
            accountId: maker?.fake.accountId,
            headers: { authorization: `Bearer ${maker?.fake.accessToken}` },
            query: { intent: "quicksilver", call_id: callId }
          }])
          expect(yield* talk(client)).toContainEqual(expect.objectContaining({ type: "session.updated" }))
          client.socket.close()
        }),
      { timeout: 90_000 }
    )
  })
}
