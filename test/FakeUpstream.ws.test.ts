import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type FakeAccount, type FakeUpstream, startFakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import type { JsonObject } from "./FakeUpstream/Json.ts"
import { field, loadCapture, types, UpgradeRejected, userTurn, WsClient, wsHeaders } from "./FakeUpstream/TestClient.ts"

interface CapturedTurn {
  readonly request: JsonObject
  readonly frames: ReadonlyArray<JsonObject>
}

// groups a ws capture into (client frame, server frames that answered it)
const capturedTurns = (name: string): ReadonlyArray<CapturedTurn> => {
  const turns: Array<{ request: JsonObject; frames: Array<JsonObject> }> = []
  for (const entry of loadCapture(name)) {
    const message = entry["message"]
    if (typeof message !== "object" || message === null || Array.isArray(message)) continue
    const frame: JsonObject = { ...message }
    if (entry["kind"] === "ws-in") turns.push({ request: frame, frames: [] })
    if (entry["kind"] === "ws-out") turns.at(-1)?.frames.push(frame)
  }
  return turns
}

// replays a captured session, rewriting captured response ids to the ones this fake handed out
const replay = async (client: WsClient, name: string) => {
  const ids = new Map<unknown, unknown>()
  const results: Array<{ captured: CapturedTurn; frames: ReadonlyArray<JsonObject> }> = []
  for (const captured of capturedTurns(name)) {
    const previous = captured.request["previous_response_id"]
    const rewritten = { ...captured.request, previous_response_id: ids.get(previous) }
    client.send(previous === undefined ? captured.request : rewritten)
    const frames = await client.turn()
    ids.set(field(captured.frames.at(-1), "response", "id"), field(frames.at(-1), "response", "id"))
    results.push({ captured, frames })
  }
  return results
}

describe("FakeUpstream websocket /responses", () => {
  let fake: FakeUpstream
  let account: FakeAccount
  const clients: Array<WsClient> = []
  const connect = async (extra: Record<string, string> = {}, who: FakeAccount = account) => {
    const client = await WsClient.connect(`${fake.url}/responses`, wsHeaders(who, extra))
    clients.push(client)
    return client
  }
  beforeAll(async () => {
    fake = await startFakeUpstream({ accounts: [{ accountId: "acct-a" }, { accountId: "acct-b" }] })
    account = fake.account("acct-a")
  })
  afterEach(() => {
    for (const client of clients.splice(0)) client.close()
    fake.clearFaults()
  })
  afterAll(() => fake.close())

  it("replays ws-basic: prewarm then incremental request, with the captured frame sequence", async () => {
    const client = await connect()
    expect(client.upgradeHeaders["x-codex-turn-state"]).toMatch(/^fake-turn-state-\d+$/)
    expect(client.upgradeHeaders["x-models-etag"]).toBe(fake.modelsEtag)
    expect(client.upgradeHeaders["openai-model"]).toBe("gpt-5.5")
    const [prewarm, turn] = await replay(client, "ws-basic")
    expect(types(prewarm?.frames ?? [])).toEqual(types(prewarm?.captured.frames ?? []))
    expect(field(prewarm?.frames.at(-1), "response", "output")).toEqual([])
    expect(field(prewarm?.frames[0], "rate_limits", "primary", "used_percent")).toBe(12.5)
    expect(types(turn?.frames ?? [])).toEqual(types(turn?.captured.frames ?? []))
    expect(field(turn?.frames.at(-1), "response", "output", 0, "content", 0, "text")).toBe("hi")
    const frames = fake.requests.filter((entry) => entry.kind === "ws-in")
    const prewarmInput = field(prewarm?.captured.request, "input")
    const delta = field(turn?.captured.request, "input")
    expect(Array.isArray(prewarmInput) && Array.isArray(delta)).toBe(true)
    if (Array.isArray(prewarmInput) && Array.isArray(delta)) {
      expect(frames.at(-1)?.resolvedInput).toEqual([...prewarmInput, ...delta])
    }
    expect(frames.at(-1)?.accountId).toBe("acct-a")
    expect(client.closed).toBe(false)
    expect(fake.openSockets()).toBe(1)
  })

  it("replays ws-tool-roundtrip: function_call, then function_call_output resolves to the final message", async () => {
    const client = await connect()
    const turns = await replay(client, "ws-tool-roundtrip")
    expect(turns.map((turn) => types(turn.frames))).toEqual(turns.map((turn) => types(turn.captured.frames)))
    expect(field(turns[1]?.frames.at(-1), "response", "output", 0)).toMatchObject({
      type: "function_call",
      name: "exec_command",
      arguments: "{\"cmd\":\"echo fake-tool\"}"
    })
    expect(field(turns[2]?.frames.at(-1), "response", "output", 0, "type")).toBe("message")
    const last = fake.requests.filter((entry) => entry.kind === "ws-in").at(-1)
    const resolvedTypes = last?.resolvedInput?.map((item) => field(item, "type"))
    expect(resolvedTypes?.slice(-2)).toEqual(["function_call", "function_call_output"])
  })

  it("replays ws-remote-compaction-v2: compaction item on the same connection, then a full request", async () => {
    const client = await connect()
    const turns = await replay(client, "ws-remote-compaction-v2")
    expect(turns.map((turn) => types(turn.frames))).toEqual(turns.map((turn) => types(turn.captured.frames)))
    expect(field(turns[2]?.frames.at(-1), "response", "output", 0, "type")).toBe("compaction")
    expect(field(turns[3]?.frames.at(-1), "response", "output", 0, "content", 0, "text")).toBe("hi")
  })

  it("answers an unknown previous_response_id with a 400 error frame and keeps the socket", async () => {
    const client = await connect()
    client.send({ type: "response.create", model: "gpt-5.5", input: [], previous_response_id: "resp_nope" })
    const [error] = await client.turn()
    expect(error).toMatchObject({ type: "error", status: 400, error: { code: "previous_response_not_found" } })
    client.send({ type: "response.create", ...userTurn("hello") })
    expect(types(await client.turn()).at(-1)).toBe("response.completed")
  })

  it("keeps response state per connection", async () => {
    const first = await connect()
    first.send({ type: "response.create", ...userTurn("hello") })
    const id = field((await first.turn()).at(-1), "response", "id")
    const second = await connect()
    second.send({ type: "response.create", model: "gpt-5.5", input: [], previous_response_id: id })
    expect(field((await second.turn())[0], "error", "code")).toBe("previous_response_not_found")
    first.send({ type: "response.create", ...userTurn("run tool"), previous_response_id: id })
    expect(field((await first.turn()).at(-1), "response", "output", 0, "type")).toBe("function_call")
    expect(fake.openSockets()).toBe(2)
  })

  it("echoes the client's turn state on upgrade", async () => {
    const client = await connect({ "x-codex-turn-state": "sticky-7" })
    expect(client.upgradeHeaders["x-codex-turn-state"]).toBe("sticky-7")
  })

  it("rejects upgrades without openai-beta, with bad credentials, or on other paths", async () => {
    const headers = wsHeaders(account)
    const { ["openai-beta"]: _beta, ...noBeta } = headers
    await expect(WsClient.connect(`${fake.url}/responses`, noBeta)).rejects.toMatchObject({ status: 400 })
    const bad = WsClient.connect(`${fake.url}/responses`, { ...headers, authorization: "Bearer nope" })
    await expect(bad).rejects.toBeInstanceOf(UpgradeRejected)
    await expect(bad).rejects.toMatchObject({ status: 401, body: expect.stringContaining("token_expired") })
    await expect(WsClient.connect(`${fake.url}/other`, headers)).rejects.toMatchObject({ status: 404 })
    const upgrades = fake.requests.filter((entry) => entry.kind === "ws-upgrade")
    expect(upgrades.slice(-3).map((entry) => entry.status)).toEqual([400, 401, 404])
  })
})
