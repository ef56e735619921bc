import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest"
import { type FakeUpstream, startFakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import {
  answerOf,
  authorize,
  authorizeUrl,
  browserSignIn,
  CALLBACK,
  codexAttempt,
  exchangeFields,
  postForm
} from "./FakeUpstream/SignInClient.ts"
import { field, postJson } from "./FakeUpstream/TestClient.ts"
import { CLIENT_ID, decodeJwt } from "./FakeUpstream/Tokens.ts"

describe("FakeUpstream sign-in", () => {
  let fake: FakeUpstream
  beforeAll(async () => {
    fake = await startFakeUpstream({ accounts: [{ accountId: "acct-a" }, { accountId: "acct-b" }] })
  })
  afterAll(() => fake.close())
  afterEach(() => vi.useRealTimers())

  const token = (fields: Record<string, string>) => postForm(`${fake.authUrl}/oauth/token`, fields)
  const refresh = (refreshToken: unknown) =>
    postJson(`${fake.authUrl}/oauth/token`, {
      client_id: CLIENT_ID,
      grant_type: "refresh_token",
      refresh_token: refreshToken
    })
  const usage = (accessToken: unknown, accountId = "acct-a") =>
    fetch(`${fake.origin}/backend-api/wham/usage`, {
      headers: { authorization: `Bearer ${String(accessToken)}`, "chatgpt-account-id": accountId }
    }).then((res) => res.status)
  const signedIn = async (accountId: string) => {
    fake.nextSignIn(accountId)
    const attempt = codexAttempt()
    const { res, location } = await authorize(authorizeUrl(fake, attempt))
    return { res, attempt, code: location?.searchParams.get("code") ?? "", location }
  }

  it("redirects an authorize to the callback with a code and the state, and exchanges the code once", async () => {
    const { res, attempt, code, location } = await signedIn("acct-a")
    expect(res.status).toBe(302)
    expect(`${location?.origin}${location?.pathname}`).toBe(CALLBACK)
    expect(location?.searchParams.get("state")).toBe(attempt.state)
    const ok = await token(exchangeFields(code, attempt))
    expect(ok.status).toBe(200)
    const body = await ok.json()
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: expect.any(Number) })
    expect(field(decodeJwt(String(field(body, "id_token"))), "https://api.openai.com/auth", "chatgpt_account_id"))
      .toBe("acct-a")
    expect(await usage(field(body, "access_token"))).toBe(200)
    expect(await answerOf(await token(exchangeFields(code, attempt)))).toMatchObject({
      status: 400,
      body: { error: "invalid_grant", error_description: expect.stringContaining("already been used") }
    })
    expect(fake.codeExchanges.filter((call) => call.code === code).map((call) => call.ok)).toEqual([true, false])
  })

  it("refuses a bad authorize with 400, and one with no sign-in queued", async () => {
    const attempt = codexAttempt()
    const bad: ReadonlyArray<Record<string, string | undefined>> = [
      { client_id: "app_other" },
      { response_type: "token" },
      { redirect_uri: "http://localhost:1456/auth/callback" },
      { code_challenge_method: "plain" },
      { code_challenge: undefined },
      { state: "" }
    ]
    fake.nextSignIn("acct-a")
    for (const overrides of bad) expect((await authorize(authorizeUrl(fake, attempt, overrides))).res.status).toBe(400)
    const fallbackPort = authorizeUrl(fake, attempt, { redirect_uri: "http://localhost:1457/auth/callback" })
    expect((await authorize(fallbackPort)).res.status).toBe(302)
    const none = await authorize(authorizeUrl(fake, attempt))
    expect(await answerOf(none.res)).toEqual({ status: 400, body: { error: "no_sign_in_queued" } })
  })

  it("sends a denial back to the callback with the state", async () => {
    fake.nextSignIn({ deny: "access_denied", description: "missing_codex_entitlement" })
    const attempt = codexAttempt()
    const { location } = await authorize(authorizeUrl(fake, attempt))
    expect(Object.fromEntries(location?.searchParams ?? [])).toEqual({
      error: "access_denied",
      error_description: "missing_codex_entitlement",
      state: attempt.state
    })
  })

  it("answers invalid_grant for a wrong verifier, redirect_uri, client or code, and leaves the code usable", async () => {
    const { attempt, code } = await signedIn("acct-b")
    const wrong = [
      { ...exchangeFields(code, attempt), code_verifier: codexAttempt().verifier },
      exchangeFields(code, attempt, "http://localhost:1457/auth/callback"),
      { ...exchangeFields(code, attempt), client_id: "app_other" },
      exchangeFields("ac_fake_never_issued", attempt)
    ]
    for (const fields of wrong) {
      expect(await answerOf(await token(fields))).toMatchObject({ status: 400, body: { error: "invalid_grant" } })
    }
    const json = await postJson(`${fake.authUrl}/oauth/token`, exchangeFields(code, attempt))
    expect(json.status).toBe(200)
  })

  it("lets a code expire after 10 minutes", async () => {
    const { attempt, code } = await signedIn("acct-b")
    vi.useFakeTimers({ toFake: ["Date"] })
    vi.setSystemTime(Date.now() + 10 * 60 * 1000 + 1000)
    expect(await answerOf(await token(exchangeFields(code, attempt)))).toMatchObject({
      status: 400,
      body: { error: "invalid_grant", error_description: expect.stringContaining("expired") }
    })
  })

  it("declines the API-key token exchange", async () => {
    const res = await token({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      client_id: CLIENT_ID,
      requested_token: "openai-api-key",
      subject_token: fake.account("acct-a").idToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:id_token"
    })
    expect(await answerOf(res)).toEqual({ status: 400, body: { error: "unsupported_grant_type" } })
  })

  it("starts a new lineage per sign-in, leaving the account's auth.json refreshable", async () => {
    const original = fake.account("acct-a")
    const tokens = await browserSignIn(fake, "acct-a")
    const first = field(tokens, "refresh_token")
    const rotated = await refresh(first)
    expect(rotated.status).toBe(200)
    const next = await rotated.json()
    expect(await answerOf(await refresh(first))).toMatchObject({
      status: 401,
      body: { error: { code: "refresh_token_reused" } }
    })
    expect(await usage(field(next, "access_token"))).toBe(200)
    expect(await usage(original.accessToken)).toBe(200)
    expect(fake.account("acct-a").refreshToken).toBe(original.refreshToken)
    const laptop = String(field(fake.authJson("acct-a"), "tokens", "refresh_token"))
    const form = { client_id: CLIENT_ID, grant_type: "refresh_token", refresh_token: laptop }
    expect((await token(form)).status).toBe(200)
    expect(await usage(field(next, "access_token"))).toBe(200)
    fake.expireAccessToken("acct-a")
    expect(await usage(field(next, "access_token"))).toBe(401)
    expect(await usage(fake.account("acct-a").accessToken)).toBe(401)
  })

  it("revokes a lineage: its refresh is invalidated and its access token refused, the others live on", async () => {
    const tokens = await browserSignIn(fake, "acct-b")
    const revoke = (body: unknown) => postJson(`${fake.authUrl}/oauth/revoke`, body)
    const refreshToken = field(tokens, "refresh_token")
    expect((await revoke({ token: refreshToken, token_type_hint: "refresh_token", client_id: "app_other" })).status)
      .toBe(400)
    expect((await revoke({ token_type_hint: "refresh_token" })).status).toBe(400)
    const ok = await revoke({ token: refreshToken, token_type_hint: "refresh_token", client_id: CLIENT_ID })
    expect(await answerOf(ok)).toEqual({ status: 200, body: {} })
    expect(await answerOf(await refresh(refreshToken))).toMatchObject({
      status: 401,
      body: { error: { code: "refresh_token_invalidated" } }
    })
    expect(await usage(field(tokens, "access_token"), "acct-b")).toBe(401)
    expect(await usage(fake.account("acct-b").accessToken, "acct-b")).toBe(200)
    expect((await revoke({ token: "rt_never_issued", token_type_hint: "refresh_token" })).status).toBe(200)
  })
})
