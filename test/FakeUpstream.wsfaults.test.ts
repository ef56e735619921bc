import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type FakeAccount, type FakeUpstream, startFakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import {
  authHeaders,
  field,
  keysOf,
  loadCapture,
  postJson,
  types,
  userTurn,
  WsClient,
  wsHeaders
} from "./FakeUpstream/TestClient.ts"

const capturedError = loadCapture("err-usage_limit-ws").find((entry) => field(entry, "message", "type") === "error")
const turn = { type: "response.create", ...userTurn("say hi") }

describe("FakeUpstream scripted faults over websocket", () => {
  let fake: FakeUpstream
  let account: FakeAccount
  const clients: Array<WsClient> = []
  const connect = async () => {
    const client = await WsClient.connect(`${fake.url}/responses`, wsHeaders(account))
    clients.push(client)
    return client
  }
  const upgradeStatus = () =>
    WsClient.connect(`${fake.url}/responses`, wsHeaders(account)).then(
      (client) => {
        clients.push(client)
        return 101
      },
      (error: unknown) => field(error, "status")
    )
  beforeAll(async () => {
    fake = await startFakeUpstream({ accounts: [{ accountId: "acct-a", plan: "pro" }] })
    account = fake.account("acct-a")
  })
  afterEach(() => {
    for (const client of clients.splice(0)) client.close()
    fake.clearFaults()
  })
  afterAll(() => fake.close())

  it("usage_limit on a frame: the captured error-frame shape, socket left open", async () => {
    const client = await connect()
    fake.fault("acct-a", "usage_limit")
    client.send({ ...turn, generate: false })
    const [frame] = await client.turn()
    const expected = field(capturedError, "message")
    expect(keysOf(frame)).toEqual(keysOf(expected))
    expect(frame).toMatchObject({
      type: "error",
      status: 429,
      error: { type: "usage_limit_reached", plan_type: "pro", resets_at: expect.any(Number) },
      headers: { "x-codex-primary-used-percent": "100" }
    })
    expect(keysOf(field(frame, "error"))).toEqual(keysOf(field(expected, "error")))
    expect(keysOf(field(frame, "headers"))).toEqual(keysOf(field(expected, "headers")))
    client.send(turn)
    expect(types(await client.turn()).at(-1)).toBe("response.completed")
    expect(client.closed).toBe(false)
  })

  it("usage_limit with onUpgrade rejects the handshake with the 429 body", async () => {
    fake.fault("acct-a", { kind: "usage_limit", onUpgrade: true })
    const rejected = WsClient.connect(`${fake.url}/responses`, wsHeaders(account))
    await expect(rejected).rejects.toMatchObject({ status: 429, body: expect.stringContaining("usage_limit_reached") })
  })

  it("ws_426 and ws_404 apply to upgrades only, leaving HTTP alone", async () => {
    fake.fault("acct-a", "ws_426")
    fake.fault("acct-a", "ws_404")
    const http = await postJson(`${fake.url}/responses`, { model: "gpt-5.5", input: turn.input }, authHeaders(account))
    expect(http.status).toBe(200)
    await http.text()
    expect(await upgradeStatus()).toBe(426)
    expect(await upgradeStatus()).toBe(404)
    expect(await upgradeStatus()).toBe(101)
  })

  it("websocket_connection_limit_reached arrives as an error frame and the server closes", async () => {
    const client = await connect()
    fake.fault("acct-a", "ws_connection_limit")
    client.send(turn)
    const [frame] = await client.turn()
    expect(frame).toMatchObject({ type: "error", error: { code: "websocket_connection_limit_reached" } })
    await fake.waitFor(() => client.closed)
    expect(fake.openSockets()).toBe(0)
  })

  it("status faults become error frames with status and headers", async () => {
    const client = await connect()
    fake.fault("acct-a", { kind: "retryable_429", retryAfterSeconds: 4 })
    fake.fault("acct-a", "unauthorized")
    client.send(turn)
    expect((await client.turn())[0]).toMatchObject({
      type: "error",
      status: 429,
      error: { retryable: true },
      headers: { "retry-after": "4" }
    })
    client.send(turn)
    expect((await client.turn())[0]).toMatchObject({ type: "error", status: 401, error: { code: "token_expired" } })
  })

  it("failed_event and incomplete stream over the socket", async () => {
    const client = await connect()
    fake.fault("acct-a", "failed_event")
    fake.fault("acct-a", "incomplete")
    client.send(turn)
    expect(types(await client.turn())).toEqual(["codex.rate_limits", "response.created", "response.failed"])
    client.send(turn)
    expect(types(await client.turn())).toEqual(["codex.rate_limits", "response.created", "response.incomplete"])
  })

  it("disconnect_mid_stream drops the socket before response.completed", async () => {
    const client = await connect()
    fake.fault("acct-a", { kind: "disconnect_mid_stream", afterEvents: 1 })
    client.send(turn)
    const frames = await client.turn()
    expect(types(frames)).toEqual(["codex.rate_limits", "response.created"])
    expect(client.closed).toBe(true)
  })

  it("stall: the client closing mid-response counts as an abort", async () => {
    const before = fake.aborts
    const client = await connect()
    fake.fault("acct-a", "stall")
    client.send(turn)
    const opening = [(await client.next()) ?? {}, (await client.next()) ?? {}]
    expect(types(opening)).toEqual(["codex.rate_limits", "response.created"])
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(client.frames).toHaveLength(2)
    client.close()
    await fake.waitFor(() => fake.aborts === before + 1)
    expect(fake.openSockets()).toBe(0)
  })
})
