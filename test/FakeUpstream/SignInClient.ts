import { createHash, randomBytes } from "node:crypto"
import type { FakeUpstream } from "./FakeUpstream.ts"
import { CLIENT_ID } from "./Tokens.ts"

export const CALLBACK = "http://localhost:1455/auth/callback"
export const SCOPE = "openid profile email offline_access api.connectors.read api.connectors.invoke"

// what Codex's login server makes per attempt (pkce.rs, server.rs)
export const codexAttempt = () => {
  const verifier = randomBytes(64).toString("base64url")
  return {
    verifier,
    challenge: createHash("sha256").update(verifier).digest("base64url"),
    state: randomBytes(32).toString("base64url")
  }
}

type Attempt = ReturnType<typeof codexAttempt>

// Codex's build_authorize_url, in its order; `overrides` replaces (or with undefined drops) a parameter
export const authorizeUrl = (
  fake: FakeUpstream,
  attempt: Attempt,
  overrides: Record<string, string | undefined> = {}
): string => {
  const params: Record<string, string | undefined> = {
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: CALLBACK,
    scope: SCOPE,
    code_challenge: attempt.challenge,
    code_challenge_method: "S256",
    id_token_add_organizations: "true",
    codex_cli_simplified_flow: "true",
    state: attempt.state,
    originator: "codex_cli_rs",
    ...overrides
  }
  const query = Object.entries(params)
    .flatMap(([key, value]) => value === undefined ? [] : [`${key}=${encodeURIComponent(value)}`])
    .join("&")
  return `${fake.authUrl}/oauth/authorize?${query}`
}

export const authorize = async (url: string) => {
  const res = await fetch(url, { redirect: "manual" })
  const location = res.headers.get("location")
  return { res, location: location === null ? undefined : new URL(location) }
}

export const answerOf = async (res: Response) => ({ status: res.status, body: await res.json() })

export const postForm = (url: string, fields: Record<string, string>): Promise<Response> =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString()
  })

export const exchangeFields = (code: string, attempt: Attempt, redirectUri = CALLBACK) => ({
  grant_type: "authorization_code",
  code,
  redirect_uri: redirectUri,
  client_id: CLIENT_ID,
  code_verifier: attempt.verifier,
  surface: "codex_cli"
})

// the whole browser sign-in for an account: authorize, then exchange the code as Codex does
export const browserSignIn = async (fake: FakeUpstream, accountId: string) => {
  fake.nextSignIn(accountId)
  const attempt = codexAttempt()
  const { location } = await authorize(authorizeUrl(fake, attempt))
  const code = location?.searchParams.get("code") ?? ""
  const res = await postForm(`${fake.authUrl}/oauth/token`, exchangeFields(code, attempt))
  if (res.status !== 200) throw new Error(`sign-in exchange answered ${res.status}: ${await res.text()}`)
  const tokens: unknown = await res.json()
  return tokens
}
