import { randomBytes } from "node:crypto"
import { parseJson } from "./Json.ts"

export const CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
export const AUTH_CLAIM = "https://api.openai.com/auth"
export const PROFILE_CLAIM = "https://api.openai.com/profile"

export interface TokenSubject {
  readonly accountId: string
  readonly userId: string
  readonly email: string
  readonly plan: string
  readonly accessTokenTtlSeconds: number
}

export interface IssuedTokens {
  readonly accessToken: string
  readonly idToken: string
  readonly refreshToken: string
  readonly accessExp: number
}

const b64url = (text: string): string => Buffer.from(text, "utf8").toString("base64url")

export const encodeJwt = (payload: Record<string, unknown>): string =>
  [JSON.stringify({ alg: "none", typ: "JWT" }), JSON.stringify(payload), "fake-signature"].map(b64url).join(".")

export const decodeJwt = (token: string): unknown => {
  const payload = token.split(".")[1]
  if (payload === undefined) return undefined
  const parsed = parseJson(Buffer.from(payload, "base64url").toString("utf8"))
  return parsed.ok ? parsed.value : undefined
}

const nonce = (): string => randomBytes(9).toString("base64url")

const authClaim = (subject: TokenSubject) => ({
  chatgpt_plan_type: subject.plan,
  chatgpt_user_id: subject.userId,
  user_id: subject.userId,
  chatgpt_account_id: subject.accountId,
  chatgpt_account_is_fedramp: false
})

export const issueTokens = (subject: TokenSubject, nowSeconds: number): IssuedTokens => {
  const accessExp = nowSeconds + subject.accessTokenTtlSeconds
  const common = {
    iss: "https://auth.openai.com",
    sub: subject.userId,
    iat: nowSeconds,
    [AUTH_CLAIM]: authClaim(subject),
    [PROFILE_CLAIM]: { email: subject.email, email_verified: true }
  }
  const accessToken = encodeJwt({
    ...common,
    aud: ["https://api.openai.com/v1"],
    exp: accessExp,
    jti: nonce(),
    scp: ["openid", "profile", "email", "offline_access"]
  })
  const idToken = encodeJwt({
    ...common,
    aud: [CLIENT_ID],
    exp: nowSeconds + 3600,
    auth_time: nowSeconds,
    email: subject.email,
    email_verified: true
  })
  return { accessToken, idToken, refreshToken: `rt_fake_${nonce()}${nonce()}`, accessExp }
}
