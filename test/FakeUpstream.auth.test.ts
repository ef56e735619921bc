import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeUpstream, startFakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import { isRecord } from "./FakeUpstream/Json.ts"
import { authHeaders, capturedRequest, field, postJson, userTurn } from "./FakeUpstream/TestClient.ts"
import { decodeJwt } from "./FakeUpstream/Tokens.ts"

const capturedRefresh = capturedRequest("chatgpt-auth-direct-http-401-recovery", "/oauth/token")
const refreshBody = (refreshToken: string, overrides: Record<string, unknown> = {}) => {
  const body = field(capturedRefresh, "body", "json")
  return { ...(isRecord(body) ? body : {}), refresh_token: refreshToken, ...overrides }
}

const simpleTurn = userTurn("hi")

describe("FakeUpstream auth server", () => {
  let fake: FakeUpstream
  beforeAll(async () => {
    fake = await startFakeUpstream({
      accounts: [{ accountId: "acct-a", email: "a@example.test", plan: "team" }, { accountId: "acct-b" }]
    })
  })
  afterAll(() => fake.close())

  const refresh = (body: unknown) => postJson(`${fake.authUrl}/oauth/token`, body)

  it("issues JWTs with the claims Codex reads and an auth.json in the CLI's shape", () => {
    const account = fake.account("acct-a")
    expect(account.accessToken.split(".")).toHaveLength(3)
    expect(decodeJwt(account.idToken)).toMatchObject({
      email: "a@example.test",
      "https://api.openai.com/auth": {
        chatgpt_plan_type: "team",
        chatgpt_account_id: "acct-a",
        chatgpt_user_id: expect.any(String)
      }
    })
    const claims = decodeJwt(account.accessToken)
    expect(field(claims, "https://api.openai.com/auth", "chatgpt_account_id")).toBe("acct-a")
    const exp = field(claims, "exp")
    expect(typeof exp === "number" && exp - Date.now() / 1000).toBeGreaterThan(3500)
    expect(fake.authJson("acct-a")).toEqual({
      auth_mode: "chatgpt",
      OPENAI_API_KEY: null,
      tokens: {
        id_token: account.idToken,
        access_token: account.accessToken,
        refresh_token: account.refreshToken,
        account_id: "acct-a"
      },
      last_refresh: expect.stringMatching(/^\d{4}-\d\d-\d\dT/)
    })
  })

  it("rotates both tokens on refresh and invalidates the old access token", async () => {
    const before = fake.account("acct-a")
    const calls = fake.refreshCalls.length
    const res = await refresh(refreshBody(before.refreshToken))
    expect(res.status).toBe(200)
    const body = await res.json()
    const after = fake.account("acct-a")
    expect(body).toEqual({
      id_token: after.idToken,
      access_token: after.accessToken,
      refresh_token: after.refreshToken
    })
    expect(after.refreshToken).not.toBe(before.refreshToken)
    expect(after.accessToken).not.toBe(before.accessToken)
    expect(fake.refreshCalls.slice(calls)).toEqual([
      { refreshToken: before.refreshToken, reason: "unauthorized_recovery", outcome: "ok", accountId: "acct-a" }
    ])
    const stale = await postJson(`${fake.url}/responses`, simpleTurn, authHeaders(before))
    expect(stale.status).toBe(401)
    expect(await stale.json()).toMatchObject({ error: { code: "token_expired" } })
    const fresh = await postJson(`${fake.url}/responses`, simpleTurn, authHeaders(after))
    expect(fresh.status).toBe(200)
    await fresh.text()
  })

  it("detects reuse of a rotated refresh token and rejects unknown ones", async () => {
    const old = fake.account("acct-b").refreshToken
    expect((await refresh(refreshBody(old))).status).toBe(200)
    const reused = await refresh(refreshBody(old))
    expect(reused.status).toBe(401)
    expect(field(await reused.json(), "error", "code")).toBe("refresh_token_reused")
    const unknown = await refresh(refreshBody("rt_never_issued"))
    expect(unknown.status).toBe(401)
    expect(field(await unknown.json(), "error", "code")).toBe("refresh_token_invalidated")
    const outcomes = fake.refreshCalls.slice(-2).map((call) => call.outcome)
    expect(outcomes).toEqual(["refresh_token_reused", "refresh_token_invalidated"])
  })

  it("fails the next refresh with refresh_token_expired when scripted, then recovers", async () => {
    fake.fault("acct-b", "refresh_token_expired")
    const token = fake.account("acct-b").refreshToken
    const expired = await refresh(refreshBody(token, { refresh_reason: "proactive_expiry" }))
    expect(expired.status).toBe(401)
    expect(field(await expired.json(), "error", "code")).toBe("refresh_token_expired")
    expect(fake.account("acct-b").refreshToken).toBe(token)
    expect((await refresh(refreshBody(token))).status).toBe(200)
  })

  it("answers 400 for a wrong client_id, grant_type or a missing token", async () => {
    const token = fake.account("acct-b").refreshToken
    expect((await refresh(refreshBody(token, { client_id: "app_other" }))).status).toBe(400)
    expect((await refresh(refreshBody(token, { grant_type: "authorization_code" }))).status).toBe(400)
    expect((await refresh({ client_id: "app_EMoamEEZ73f0CkXaXp7hrann", grant_type: "refresh_token" })).status).toBe(400)
    expect(fake.account("acct-b").refreshToken).toBe(token)
  })

  it("rejects access tokens past their exp", async () => {
    const account = fake.addAccount({ accountId: "acct-short", accessTokenTtlSeconds: 0 })
    expect(field(decodeJwt(account.accessToken), "exp")).toBeLessThanOrEqual(Math.floor(Date.now() / 1000))
    const res = await postJson(`${fake.url}/responses`, simpleTurn, authHeaders(account))
    expect(res.status).toBe(401)
    expect((await refresh(refreshBody(account.refreshToken))).status).toBe(200)
    const renewed = await postJson(`${fake.url}/responses`, simpleTurn, authHeaders(fake.account("acct-short")))
    expect(renewed.status).toBe(401)
    fake.expireAccessToken("acct-b")
    expect((await postJson(`${fake.url}/responses`, simpleTurn, authHeaders(fake.account("acct-b")))).status).toBe(401)
  })
})
