import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type FakeAccount, type FakeUpstream, startFakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import { authHeaders, field, loadCapture, parseSse, postJson, postResponses } from "./FakeUpstream/TestClient.ts"

const [basic] = loadCapture("http-basic").filter((entry) => entry["path"] === "/backend-api/codex/responses")
const turnBody = field(basic, "body", "json")

const readAll = async (res: Response): Promise<{ text: string; error: unknown }> => {
  const reader = res.body?.getReader()
  const decoder = new TextDecoder()
  let text = ""
  try {
    for (;;) {
      const chunk = await reader?.read()
      if (chunk === undefined || chunk.done) return { text, error: undefined }
      text += decoder.decode(chunk.value, { stream: true })
    }
  } catch (error) {
    return { text, error }
  }
}

describe("FakeUpstream scripted faults over HTTP", () => {
  let fake: FakeUpstream
  let account: FakeAccount
  beforeAll(async () => {
    fake = await startFakeUpstream({ accounts: [{ accountId: "acct-a", plan: "pro" }, { accountId: "acct-b" }] })
    account = fake.account("acct-a")
  })
  beforeEach(() => fake.clearFaults())
  afterAll(() => fake.close())

  const send = () => postJson(`${fake.url}/responses`, turnBody, authHeaders(account))

  it("usage_limit: 429 usage_limit_reached with plan, reset time and 100 % primary headers", async () => {
    fake.fault("acct-a", { kind: "usage_limit", resetsInSeconds: 600 })
    const res = await send()
    expect(res.status).toBe(429)
    const body = await res.json()
    expect(body).toEqual({
      error: {
        type: "usage_limit_reached",
        message: "The usage limit has been reached",
        plan_type: "pro",
        resets_at: expect.any(Number),
        resets_in_seconds: 600
      }
    })
    expect(Math.abs(Number(field(body, "error", "resets_at")) - (Date.now() / 1000 + 600))).toBeLessThan(5)
    expect(res.headers.get("x-codex-primary-used-percent")).toBe("100")
    expect(res.headers.get("x-codex-primary-reset-at")).toMatch(/^\d+$/)
    expect(fake.requests.at(-1)).toMatchObject({ fault: "usage_limit", status: 429, accountId: "acct-a" })
  })

  it.each(
    [
      ["usage_not_included", 429, { type: "usage_not_included" }],
      ["plain_429", 429, { code: "rate_limit_exceeded" }],
      ["unauthorized", 401, { code: "token_expired" }],
      ["overloaded", 503, { code: "server_is_overloaded" }],
      ["http_500", 500, { type: "server_error" }]
    ] as const
  )("%s answers %i with the §9 body", async (kind, status, error) => {
    fake.fault("acct-a", kind)
    const res = await send()
    expect(res.status).toBe(status)
    expect(field(await res.json(), "error")).toMatchObject(error)
    expect(res.headers.get("retry-after")).toBeNull()
    const next = await send()
    expect(next.status).toBe(200)
    await next.text()
  })

  it("plain_429 carries an x-request-id and no retryable flag; retryable_429 adds both", async () => {
    fake.fault("acct-a", "plain_429")
    const plain = await send()
    expect(plain.headers.get("x-request-id")).toMatch(/^req_fake_/)
    expect(field(await plain.json(), "error", "retryable")).toBeUndefined()
    fake.fault("acct-a", { kind: "retryable_429", retryAfterSeconds: 2 })
    const retryable = await send()
    expect(retryable.status).toBe(429)
    expect(retryable.headers.get("retry-after")).toBe("2")
    expect(field(await retryable.json(), "error", "retryable")).toBe(true)
  })

  it("http_500 takes any 5xx status and `times` repeats a fault", async () => {
    fake.fault("acct-a", { kind: "http_500", status: 502 }, 2)
    expect((await send()).status).toBe(502)
    expect((await send()).status).toBe(502)
    const ok = await send()
    expect(ok.status).toBe(200)
    await ok.text()
  })

  it("faults are per account and FIFO", async () => {
    fake.fault("acct-b", "plain_429")
    fake.fault("acct-a", "overloaded")
    fake.fault("acct-a", "usage_not_included")
    expect((await send()).status).toBe(503)
    expect(field(await (await send()).json(), "error", "type")).toBe("usage_not_included")
    const b = await postJson(`${fake.url}/responses`, turnBody, authHeaders(fake.account("acct-b")))
    expect(b.status).toBe(429)
  })

  it("failed_event: 200 then response.failed, like err-failed_event-http", async () => {
    fake.fault("acct-a", "failed_event")
    const { res, events } = await postResponses(fake, account, turnBody)
    expect(res.status).toBe(200)
    const captured = field(loadCapture("err-failed_event-http")[0], "outcome", "sse_events")
    expect(events.map((event) => event.data["type"])).toEqual(captured)
    expect(field(events.at(-1)?.data, "response", "error")).toEqual({
      code: "rate_limit_exceeded",
      message: "Rate limit reached. Please try again in 1.5s."
    })
    fake.fault("acct-a", { kind: "failed_event", code: "insufficient_quota", message: "quota" })
    const custom = await postResponses(fake, account, turnBody)
    expect(field(custom.events.at(-1)?.data, "response", "error", "code")).toBe("insufficient_quota")
  })

  it("incomplete: ends with response.incomplete and its reason", async () => {
    fake.fault("acct-a", { kind: "incomplete", reason: "content_filter" })
    const { events } = await postResponses(fake, account, turnBody)
    expect(events.map((event) => event.data["type"])).toEqual(["response.created", "response.incomplete"])
    expect(field(events.at(-1)?.data, "response", "incomplete_details", "reason")).toBe("content_filter")
  })

  it("disconnect_mid_stream: the stream ends without response.completed", async () => {
    fake.fault("acct-a", { kind: "disconnect_mid_stream", afterEvents: 2 })
    const res = await send()
    expect(res.status).toBe(200)
    const { text } = await readAll(res)
    const seen = parseSse(text).map((event) => event.data["type"])
    expect(seen).toEqual(["response.created", "response.in_progress"])
    expect(text).not.toContain("response.completed")
  })

  it("stall: headers and response.created, then silence until the client aborts", async () => {
    const before = fake.aborts
    fake.fault("acct-a", "stall")
    const controller = new AbortController()
    const res = await postJson(`${fake.url}/responses`, turnBody, authHeaders(account), { signal: controller.signal })
    expect(res.status).toBe(200)
    const reader = res.body?.getReader()
    const first = await reader?.read()
    expect(new TextDecoder().decode(first?.value)).toContain("response.created")
    const more = reader?.read().then(() => "data", () => "aborted")
    const raced = await Promise.race([more, new Promise((resolve) => setTimeout(() => resolve("silent"), 200))])
    expect(raced).toBe("silent")
    controller.abort()
    await fake.waitFor(() => fake.aborts === before + 1)
    expect(fake.aborts).toBe(before + 1)
  })

  it("stall with ms resumes and completes after the pause", async () => {
    fake.fault("acct-a", { kind: "stall", ms: 150 })
    const started = Date.now()
    const { events } = await postResponses(fake, account, turnBody)
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    expect(events.at(-1)?.data["type"]).toBe("response.completed")
  })

  it("legacy compact consumes status faults", async () => {
    fake.fault("acct-a", "usage_limit")
    const res = await postJson(`${fake.url}/responses/compact`, { model: "gpt-5.5", input: [] }, authHeaders(account))
    expect(res.status).toBe(429)
    expect(fake.pendingFaults("acct-a")).toEqual([])
  })

  it("can be scripted over the admin endpoint", async () => {
    const fault = { kind: "retryable_429", retryAfterSeconds: 3 }
    const admin = await postJson(`${fake.origin}/__fake/faults`, { accountId: "acct-a", fault })
    expect(admin.status).toBe(200)
    expect(fake.pendingFaults("acct-a")).toEqual([{ fault, remaining: 1 }])
    expect((await send()).headers.get("retry-after")).toBe("3")
    expect((await postJson(`${fake.origin}/__fake/faults`, { accountId: "acct-a", fault: "nope" })).status).toBe(400)
    expect((await postJson(`${fake.origin}/__fake/faults`, { accountId: "acct-zzz", fault: "stall" })).status).toBe(404)
    await postJson(`${fake.origin}/__fake/faults`, { accountId: "acct-a", fault: "http_500", times: 5 })
    expect((await fetch(`${fake.origin}/__fake/faults?accountId=acct-a`, { method: "DELETE" })).status).toBe(200)
    expect(fake.pendingFaults("acct-a")).toEqual([])
    const state = await (await fetch(`${fake.origin}/__fake/state`)).json()
    expect(field(state, "accounts", 0, "authJson", "tokens", "account_id")).toBe("acct-a")
  })
})
