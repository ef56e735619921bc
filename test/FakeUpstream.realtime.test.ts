import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type FakeAccount, type FakeUpstream, startFakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import { authHeaders, postJson, UpgradeRejected, WsClient } from "./FakeUpstream/TestClient.ts"

const makeCall = async (fake: FakeUpstream, account: FakeAccount) => {
  const offer = { sdp: "v=0\r\n", session: { type: "realtime" } }
  const res = await postJson(`${fake.url}/realtime/calls`, offer, authHeaders(account))
  expect(res.status).toBe(201)
  return (res.headers.get("location") ?? "").split("/").at(-1) ?? ""
}

const refusal = (attempt: Promise<WsClient>) =>
  attempt.then(
    () => expect.fail("the join was accepted"),
    (error: unknown) => error instanceof UpgradeRejected ? error.status : -1
  )

describe("FakeUpstream realtime sideband /v1/realtime", () => {
  let fake: FakeUpstream
  let a: FakeAccount
  let b: FakeAccount
  const clients: Array<WsClient> = []
  const join = async (query: string, headers: Record<string, string>) => {
    const client = await WsClient.connect(`${fake.origin}/v1/realtime${query}`, headers)
    clients.push(client)
    return client
  }
  beforeAll(async () => {
    fake = await startFakeUpstream({ accounts: [{ accountId: "acct-a" }, { accountId: "acct-b" }] })
    a = fake.account("acct-a")
    b = fake.account("acct-b")
  })
  afterEach(() => {
    for (const client of clients.splice(0)) client.close()
  })
  afterAll(() => fake.close())

  it("the account that made the call joins it, and the join is recorded with its query", async () => {
    const callId = await makeCall(fake, a)
    fake.reset()
    const client = await join(`?intent=quicksilver&call_id=${callId}`, authHeaders(a))
    client.send({ type: "session.update", session: { instructions: "be brief" } })
    expect(await client.next()).toEqual({
      type: "session.updated",
      session: { id: expect.stringMatching(/^sess_fake_/), instructions: "be brief" }
    })
    client.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: "hello" }] }
    })
    expect(await client.next()).toEqual({ type: "conversation.output_transcript.delta", delta: "hi" })
    expect(await client.next()).toEqual({ type: "conversation.output_transcript.done", text: "hi" })
    const upgrade = fake.requests.find((request) => request.kind === "ws-upgrade")
    expect(upgrade).toMatchObject({
      path: "/v1/realtime",
      query: { intent: "quicksilver", call_id: callId },
      accountId: "acct-a",
      status: 101
    })
  })

  it("another account's join, an unknown call and a missing call_id are 404; a bad bearer is 401", async () => {
    const callId = await makeCall(fake, a)
    expect(await refusal(join(`?call_id=${callId}`, authHeaders(b)))).toBe(404)
    expect(await refusal(join("?call_id=rtc_unknown", authHeaders(a)))).toBe(404)
    expect(await refusal(join("", authHeaders(a)))).toBe(404)
    expect(await refusal(join(`?call_id=${callId}`, { ...authHeaders(a), authorization: "Bearer nope" }))).toBe(401)
  })
})
