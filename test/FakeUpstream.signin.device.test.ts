import { createHash } from "node:crypto"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { defaultDeviceAuth } from "./FakeUpstream/DeviceCodes.ts"
import { type FakeUpstream, startFakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import { answerOf, authorize, authorizeUrl, codexAttempt, postForm } from "./FakeUpstream/SignInClient.ts"
import { field, postJson } from "./FakeUpstream/TestClient.ts"
import { CLIENT_ID } from "./FakeUpstream/Tokens.ts"

describe("FakeUpstream device sign-in", () => {
  let fake: FakeUpstream
  beforeAll(async () => {
    fake = await startFakeUpstream({ accounts: [{ accountId: "acct-d" }] })
  })
  afterAll(() => fake.close())
  afterEach(() => fake.setDeviceAuth(defaultDeviceAuth))

  const post = (path: string, body: unknown) => postJson(`${fake.authUrl}/api/accounts/deviceauth/${path}`, body)
  const userCode = async (): Promise<unknown> => (await post("usercode", { client_id: CLIENT_ID })).json()
  const poll = (issued: unknown) =>
    post("token", { device_auth_id: field(issued, "device_auth_id"), user_code: field(issued, "user_code") })
  const polls = async (issued: unknown, times: number) => {
    const statuses: Array<number> = []
    for (let i = 0; i < times; i++) statuses.push((await poll(issued)).status)
    return statuses
  }
  const admin = (path: string, body?: unknown) =>
    body === undefined ? fetch(`${fake.origin}/__fake/${path}`) : postJson(`${fake.origin}/__fake/${path}`, body)

  it("issues a code with a string interval, answers pending, then the approved code once, for an exchange", async () => {
    const issued = await userCode()
    expect(issued).toEqual({
      device_auth_id: expect.stringMatching(/^deviceauth_/),
      user_code: expect.stringMatching(/^[A-Z]{4}-\d{4}$/),
      interval: "0",
      expires_at: expect.any(String)
    })
    expect(Date.parse(String(field(issued, "expires_at"))) - Date.now()).toBeGreaterThan(890_000)
    const pending = await poll(issued)
    expect(pending.status).toBe(403)
    expect(field(await pending.json(), "error", "code")).toBe("deviceauth_authorization_pending")
    const code = String(field(issued, "user_code"))
    fake.approveDevice(code, "acct-d")
    const approved = await poll(issued)
    expect(approved.status).toBe(200)
    const pair = await approved.json()
    const verifier = String(field(pair, "code_verifier"))
    expect(field(pair, "code_challenge")).toBe(createHash("sha256").update(verifier).digest("base64url"))
    expect(await answerOf(await poll(issued))).toEqual({ status: 400, body: { error: "invalid_request" } })
    const exchanged = await postForm(`${fake.authUrl}/oauth/token`, {
      grant_type: "authorization_code",
      code: String(field(pair, "authorization_code")),
      redirect_uri: `${fake.authUrl}/deviceauth/callback`,
      client_id: CLIENT_ID,
      code_verifier: verifier
    })
    expect(exchanged.status).toBe(200)
    expect(fake.deviceCodes().find((one) => one.userCode === code)).toMatchObject({
      status: "collected",
      polls: 3,
      accountId: "acct-d"
    })
  })

  it("answers 401 to a denied code, 410 to an expired one and 400 to an unknown pair", async () => {
    const denied = await userCode()
    fake.denyDevice(String(field(denied, "user_code")))
    expect(await answerOf(await poll(denied))).toEqual({
      status: 401,
      body: { error: "authorization_declined", error_description: "Denied" }
    })
    fake.setDeviceAuth({ expiresInSeconds: 0 })
    expect(await answerOf(await poll(await userCode()))).toEqual({ status: 410, body: { error: "expired_token" } })
    const unknown = await post("token", { device_auth_id: field(denied, "device_auth_id"), user_code: "ZZZZ-0000" })
    expect(await answerOf(unknown)).toEqual({ status: 400, body: { error: "invalid_request" } })
  })

  it("answers 404 when device sign-in is off, and 400 to another client", async () => {
    expect((await post("usercode", { client_id: "app_other" })).status).toBe(400)
    fake.setDeviceAuth({ enabled: false })
    const off = await post("usercode", { client_id: CLIENT_ID })
    expect(await answerOf(off)).toEqual({ status: 404, body: { error: { code: "not_found" } } })
  })

  it("approves or denies the next code by itself after that many pending polls", async () => {
    fake.autoApproveDevice("acct-d", { afterPolls: 1 })
    expect(await polls(await userCode(), 3)).toEqual([403, 200, 400])
    fake.autoApproveDevice({ deny: true, afterPolls: 2 })
    expect(await polls(await userCode(), 3)).toEqual([403, 403, 401])
  })

  it("answers slow_down to a poll sooner than the interval, when enforced", async () => {
    fake.setDeviceAuth({ interval: "5", enforceInterval: true })
    const issued = await userCode()
    expect(field(issued, "interval")).toBe("5")
    const [, tooSoon] = [await poll(issued), await poll(issued)]
    expect(await answerOf(tooSoon)).toEqual({ status: 429, body: { error: "slow_down" } })
  })

  it("serves the hooks under /__fake for a fake run from the command line", async () => {
    expect(field(await (await admin("device-auth", { interval: 2 })).json(), "deviceAuth", "interval")).toBe("2")
    expect((await admin("devices/auto", { accountId: "acct-d" })).status).toBe(200)
    const issued = await userCode()
    expect((await poll(issued)).status).toBe(200)
    expect((await admin("devices/approve", { userCode: "ZZZZ-0000", accountId: "acct-d" })).status).toBe(400)
    expect((await admin("devices/approve", { userCode: "ZZZZ-0000", accountId: "acct-none" })).status).toBe(404)
    const listed = field(await (await admin("devices")).json(), "devices")
    expect(Array.isArray(listed) && listed.some((one) => field(one, "userCode") === field(issued, "user_code")))
      .toBe(true)
    expect((await admin("sign-ins", { deny: "access_denied" })).status).toBe(200)
    const { location } = await authorize(authorizeUrl(fake, codexAttempt()))
    expect(location?.searchParams.get("error")).toBe("access_denied")
  })
})
