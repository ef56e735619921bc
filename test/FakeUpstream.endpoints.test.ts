import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeAccount, type FakeUpstream, startFakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import { authHeaders, capturedRequest, field, postJson, postResponses, userTurn } from "./FakeUpstream/TestClient.ts"

const catalog: unknown = JSON.parse(readFileSync(new URL("./FakeUpstream/models.json", import.meta.url), "utf8"))

describe("FakeUpstream other backend routes", () => {
  let fake: FakeUpstream
  let account: FakeAccount
  beforeAll(async () => {
    fake = await startFakeUpstream({ accounts: [{ accountId: "acct-a", plan: "plus" }, { accountId: "acct-b" }] })
    account = fake.account("acct-a")
  })
  afterAll(() => fake.close())

  it("serves the model catalog with an ETag and answers If-None-Match with 304", async () => {
    const captured = capturedRequest("chatgpt-auth-direct-http-401-recovery", "/backend-api/codex/models")
    const res = await fetch(`${fake.origin}${String(captured?.["url"])}`, { headers: authHeaders(account) })
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(field(body, "models")).toEqual(catalog)
    expect(field(body, "models", 0, "slug")).toBe(field(captured, "outcome", "models", 0))
    expect(field(body, "models", 0, "base_instructions")).toEqual(expect.any(String))
    const etag = res.headers.get("etag")
    expect(etag).toBe(fake.modelsEtag)
    expect(fake.requests.at(-1)?.query).toEqual({ client_version: "0.169.0" })
    const cached = await fetch(`${fake.url}/models?client_version=0.169.0`, {
      headers: { ...authHeaders(account), "if-none-match": etag ?? "" }
    })
    expect(cached.status).toBe(304)
    expect(await cached.text()).toBe("")
    const bumped = fake.bumpModelsEtag()
    const stale = await fetch(`${fake.url}/models?client_version=0.169.0`, {
      headers: { ...authHeaders(account), "if-none-match": etag ?? "" }
    })
    expect(stale.status).toBe(200)
    expect(stale.headers.get("etag")).toBe(bumped)
  })

  it("legacy /responses/compact returns retained user messages plus a compaction item", async () => {
    const input = [
      { type: "message", role: "developer", content: [{ type: "input_text", text: "rules" }] },
      { type: "message", role: "user", content: [{ type: "input_text", text: "first" }] },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "answer" }] },
      { type: "message", role: "user", content: [{ type: "input_text", text: "second" }] }
    ]
    const body = { model: "gpt-5.5", input, tools: [], parallel_tool_calls: true }
    const res = await postJson(`${fake.url}/responses/compact`, body, authHeaders(account))
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toBe("application/json")
    const output = field(await res.json(), "output")
    const compaction = expect.objectContaining({ type: "compaction", encrypted_content: expect.any(String) })
    expect(output).toEqual([input[1], input[3], compaction])
  })

  it("realtime calls answer 201 with an SDP body and an rtc_ Location", async () => {
    const offer = { sdp: "v=0\r\n", session: { type: "realtime" } }
    const res = await postJson(`${fake.url}/realtime/calls`, offer, authHeaders(account))
    expect(res.status).toBe(201)
    expect(res.headers.get("content-type")).toBe("application/sdp")
    expect(res.headers.get("location")).toMatch(/^\/v1\/realtime\/calls\/rtc_[A-Za-z0-9_]+$/)
    expect(await res.text()).toMatch(/^v=0\r\n/)
  })

  it("workspace routing discovery returns exactly the caller's account", async () => {
    const res = await fetch(`${fake.origin}/backend-api/wham/accounts/check`, { headers: authHeaders(account) })
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(field(body, "accounts")).toEqual([
      expect.objectContaining({ id: "acct-a", plan_type: "plus", workspace_backend_origin: "NO_CONSTRAINT" })
    ])
    expect(field(body, "default_account_id")).toBe("acct-a")
  })

  it("answers unknown paths with a JSON 404", async () => {
    const url = `${fake.origin}/backend-api/ps/plugins/installed?limit=200`
    const res = await fetch(url, { headers: authHeaders(account) })
    expect(res.status).toBe(404)
    expect(field(await res.json(), "error", "code")).toBe("not_found")
  })

  const credentialCases: ReadonlyArray<readonly [string, () => Record<string, string>]> = [
    ["no credentials", () => ({})],
    ["the token of another account", () => ({ ...authHeaders(account), "chatgpt-account-id": "acct-b" })],
    ["a missing ChatGPT-Account-ID", () => ({ authorization: `Bearer ${account.accessToken}` })],
    ["a garbage token", () => ({ ...authHeaders(account), authorization: "Bearer nope" })],
    ["an unknown account", () => ({ ...authHeaders(account), "chatgpt-account-id": "acct-zzz" })]
  ]

  it.each(credentialCases)("rejects %s with 401 token_expired on every backend route", async (_label, makeHeaders) => {
    const headers = makeHeaders()
    const before = fake.requests.length
    const responses = await Promise.all([
      postJson(`${fake.url}/responses`, { model: "gpt-5.5", input: [] }, headers),
      postJson(`${fake.url}/responses/compact`, { model: "gpt-5.5", input: [] }, headers),
      fetch(`${fake.url}/models?client_version=0.169.0`, { headers }),
      postJson(`${fake.url}/realtime/calls`, { sdp: "v=0" }, headers),
      fetch(`${fake.origin}/backend-api/wham/accounts/check`, { headers })
    ])
    for (const res of responses) {
      expect(res.status).toBe(401)
      expect(field(await res.json(), "error", "code")).toBe("token_expired")
    }
    const recorded = fake.requests.slice(before)
    expect(recorded).toHaveLength(5)
    expect(recorded.every((entry) => entry.accountId === undefined && entry.status === 401)).toBe(true)
  })
})

describe("FakeUpstream usage and rate-limit knobs", () => {
  let fake: FakeUpstream
  beforeAll(async () => {
    fake = await startFakeUpstream({ accounts: [{ accountId: "acct-a" }, { accountId: "acct-b" }] })
  })
  afterAll(() => fake.close())

  const turn = async (accountId: string) => {
    const { res, events } = await postResponses(fake, fake.account(accountId), userTurn("hi"))
    return { res, usage: field(events.at(-1)?.data, "response", "usage") }
  }

  it("setUsage and setRateLimits shape usage and headers per account", async () => {
    fake.setUsage({ inputTokens: 260000, cachedTokens: 0 }, "acct-a")
    fake.setRateLimits("acct-a", { primaryUsedPercent: 97.5, hasCredits: true, balance: "12.5" })
    const a = await turn("acct-a")
    expect(field(a.usage, "input_tokens")).toBe(260000)
    expect(field(a.usage, "total_tokens")).toBe(260005)
    expect(a.res.headers.get("x-codex-primary-used-percent")).toBe("97.5")
    expect(a.res.headers.get("x-codex-credits-has-credits")).toBe("true")
    expect(a.res.headers.get("x-codex-credits-balance")).toBe("12.5")
    const b = await turn("acct-b")
    expect(field(b.usage, "input_tokens")).toBe(1234)
    expect(b.res.headers.get("x-codex-primary-used-percent")).toBe("12.5")
  })

  it("the admin endpoint sets usage, rate limits and answers too", async () => {
    expect((await postJson(`${fake.origin}/__fake/usage`, { outputTokens: 42 })).status).toBe(200)
    const limits = { accountId: "acct-b", secondaryUsedPercent: 88 }
    expect((await postJson(`${fake.origin}/__fake/rate-limits`, limits)).status).toBe(200)
    const answer = { accountId: "acct-b", answer: "admin says" }
    expect((await postJson(`${fake.origin}/__fake/answer`, answer)).status).toBe(200)
    const b = await postResponses(fake, fake.account("acct-b"), userTurn("hi"))
    expect(field(b.events.at(-1)?.data, "response", "usage", "output_tokens")).toBe(42)
    expect(field(b.events.at(-1)?.data, "response", "output", 0, "content", 0, "text")).toBe("admin says")
    expect(b.res.headers.get("x-codex-secondary-used-percent")).toBe("88")
    const created = await postJson(`${fake.origin}/__fake/accounts`, { accountId: "acct-new", plan: "plus" })
    expect(created.status).toBe(201)
    expect(field(await created.json(), "authJson", "tokens", "account_id")).toBe("acct-new")
    expect(fake.account("acct-new").plan).toBe("plus")
  })
})
