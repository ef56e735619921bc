import { spawnSync } from "node:child_process"
import { gzipSync } from "node:zlib"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type FakeAccount, type FakeUpstream, startFakeUpstream, TOOL_ARGUMENTS } from "./FakeUpstream/FakeUpstream.ts"
import {
  authHeaders,
  field,
  loadCapture,
  postJson,
  postResponses,
  type SseEvent,
  userTurn
} from "./FakeUpstream/TestClient.ts"

const responsesRequests = (name: string) =>
  loadCapture(name).filter((entry) =>
    entry["kind"] === "http" && entry["path"] === "/backend-api/codex/responses" &&
    field(entry, "body", "json") !== undefined
  )

const capturedEvents = (entry: unknown) => field(entry, "outcome", "sse_events")

const names = (events: ReadonlyArray<SseEvent>) => events.map((event) => event.data["type"])

describe("FakeUpstream HTTP /responses", () => {
  let fake: FakeUpstream
  let account: FakeAccount
  beforeAll(async () => {
    fake = await startFakeUpstream({ accounts: [{ accountId: "acct-a" }, { accountId: "acct-b" }] })
    account = fake.account("acct-a")
  })
  afterAll(() => fake.close())
  beforeEach(() => {
    fake.reset()
    fake.setAnswer("hi")
  })

  it("replays http-basic: same SSE sequence, event line = data.type, completed has id + usage", async () => {
    const [captured] = responsesRequests("http-basic")
    const { res, events } = await postResponses(fake, account, field(captured, "body", "json"))
    expect(res.status).toBe(200)
    expect(names(events)).toEqual(capturedEvents(captured))
    for (const event of events) expect(event.event).toBe(event.data["type"])
    const completed = events.at(-1)?.data
    expect(field(completed, "response", "id")).toMatch(/^resp_/)
    expect(field(completed, "response", "usage")).toEqual({
      input_tokens: 1234,
      input_tokens_details: { cached_tokens: 1000 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 1239
    })
    const delta = events.find((event) => event.data["type"] === "response.output_text.delta")
    expect(delta?.data["delta"]).toBe("hi")
    expect(fake.requests.at(-1)).toMatchObject({ kind: "http", accountId: "acct-a", status: 200, method: "POST" })
    const cacheKey = field(captured, "body", "json", "prompt_cache_key")
    expect(field(fake.requests.at(-1)?.body, "prompt_cache_key")).toBe(cacheKey)
  })

  it("sends rate-limit, model, etag, turn-state and request-id headers", async () => {
    const [captured] = responsesRequests("http-basic")
    const { res } = await postResponses(fake, account, field(captured, "body", "json"))
    for (const name of ["primary", "secondary"]) {
      expect(Number(res.headers.get(`x-codex-${name}-used-percent`))).toBeGreaterThanOrEqual(0)
      expect(Number(res.headers.get(`x-codex-${name}-window-minutes`))).toBeGreaterThan(0)
      expect(Number(res.headers.get(`x-codex-${name}-reset-at`))).toBeGreaterThan(Date.now() / 1000)
    }
    expect(res.headers.get("x-codex-credits-has-credits")).toBe("false")
    expect(res.headers.get("x-codex-credits-unlimited")).toBe("false")
    expect(res.headers.get("x-codex-credits-balance")).toBe("0")
    expect(res.headers.get("openai-model")).toBe("gpt-5.5")
    expect(res.headers.get("x-models-etag")).toBe(fake.modelsEtag)
    expect(res.headers.get("x-request-id")).toMatch(/^req_fake_\d+$/)
    expect(res.headers.get("x-codex-turn-state")).toMatch(/^fake-turn-state-\d+$/)
  })

  it("issues a fresh turn state per turn and echoes the client's", async () => {
    const [captured] = responsesRequests("http-basic")
    const body = field(captured, "body", "json")
    const first = await postResponses(fake, account, body)
    const second = await postResponses(fake, account, body)
    expect(first.res.headers.get("x-codex-turn-state")).not.toBe(second.res.headers.get("x-codex-turn-state"))
    const echoed = await postResponses(fake, account, body, { "x-codex-turn-state": "sticky-42" })
    expect(echoed.res.headers.get("x-codex-turn-state")).toBe("sticky-42")
  })

  it("replays http-tool-roundtrip: function_call to exec_command, then the final message", async () => {
    const [first, second] = responsesRequests("http-tool-roundtrip")
    const call = await postResponses(fake, account, field(first, "body", "json"))
    expect(names(call.events)).toEqual(capturedEvents(first))
    const item = field(call.events.find((event) => event.data["type"] === "response.output_item.done")?.data, "item")
    expect(item).toMatchObject({ type: "function_call", name: "exec_command", arguments: TOOL_ARGUMENTS })
    expect(TOOL_ARGUMENTS).toBe("{\"cmd\":\"echo fake-tool\"}")
    expect(field(item, "call_id")).toMatch(/^call_/)
    const final = await postResponses(fake, account, field(second, "body", "json"), { "x-codex-turn-state": "t" })
    expect(names(final.events)).toEqual(capturedEvents(second))
    expect(field(final.events.at(-1)?.data, "response", "output", 0, "content", 0, "text")).toBe("hi")
  })

  it("replays http-remote-compaction-v2: compaction_trigger yields a compaction item", async () => {
    const [turn, compaction, after] = responsesRequests("http-remote-compaction-v2")
    const first = await postResponses(fake, account, field(turn, "body", "json"))
    expect(names(first.events)).toEqual(capturedEvents(turn))
    const compacted = await postResponses(fake, account, field(compaction, "body", "json"))
    expect(names(compacted.events)).toEqual(capturedEvents(compaction))
    const item = field(compacted.events.at(-1)?.data, "response", "output", 0)
    expect(field(item, "type")).toBe("compaction")
    expect(field(item, "encrypted_content")).toEqual(expect.any(String))
    const next = await postResponses(fake, account, field(after, "body", "json"))
    expect(names(next.events)).toEqual(capturedEvents(after))
  })

  it("uses the configured answer globally and per account, split into deltas", async () => {
    const body = userTurn("x")
    fake.setAnswer("hello from the fake")
    const global = await postResponses(fake, account, body)
    const deltas = global.events.filter((event) => event.data["type"] === "response.output_text.delta")
    expect(deltas.length).toBeGreaterThan(1)
    expect(deltas.map((event) => event.data["delta"]).join("")).toBe("hello from the fake")
    fake.setAnswer("only b", "acct-b")
    const b = await postResponses(fake, fake.account("acct-b"), body)
    expect(field(b.events.at(-1)?.data, "response", "output", 0, "content", 0, "text")).toBe("only b")
    const a = await postResponses(fake, account, body)
    expect(field(a.events.at(-1)?.data, "response", "output", 0, "content", 0, "text")).toBe("hello from the fake")
  })

  it("accepts gzip request bodies", async () => {
    const [captured] = responsesRequests("http-basic")
    const res = await fetch(`${fake.url}/responses`, {
      method: "POST",
      headers: { ...authHeaders(account), "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(JSON.stringify(field(captured, "body", "json")))
    })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain("response.completed")
    expect(field(fake.requests.at(-1)?.body, "model")).toBe("gpt-5.5")
  })

  it("accepts zstd request bodies like ChatGPT-auth Codex sends", async () => {
    const captured = responsesRequests("chatgpt-auth-direct-http-401-recovery").at(-1)
    expect(field(captured, "headers")).toContainEqual(["content-encoding", "zstd"])
    const json = JSON.stringify(field(captured, "body", "json"))
    const compressed = spawnSync("zstd", ["-c", "-q"], { input: json }).stdout
    const res = await fetch(`${fake.url}/responses`, {
      method: "POST",
      headers: { ...authHeaders(account), "content-type": "application/json", "content-encoding": "zstd" },
      body: compressed
    })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain("response.completed")
    expect(field(fake.requests.at(-1)?.body, "reasoning")).toEqual({ effort: "medium", summary: "auto" })
  })

  it("rejects undecodable bodies and unknown encodings", async () => {
    const headers = { ...authHeaders(account), "content-type": "application/json" }
    const post = (encoding: string, body: string) =>
      fetch(`${fake.url}/responses`, { method: "POST", headers: { ...headers, "content-encoding": encoding }, body })
    const broken = await post("gzip", "nope")
    expect(broken.status).toBe(400)
    const unknown = await post("lzma", "{}")
    expect(unknown.status).toBe(415)
    const invalid = await postJson(`${fake.url}/responses`, { model: "gpt-5.5" }, authHeaders(account))
    expect(invalid.status).toBe(400)
  })

  it("rejects previous_response_id over HTTP (store:false keeps nothing)", async () => {
    const body = { model: "gpt-5.5", input: [], previous_response_id: "resp_x" }
    const res = await postJson(`${fake.url}/responses`, body, authHeaders(account))
    expect(res.status).toBe(400)
    expect(field(await res.json(), "error", "code")).toBe("previous_response_not_found")
  })
})
