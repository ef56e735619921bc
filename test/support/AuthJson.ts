import { randomBytes } from "node:crypto"

const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

export const jwt = (claims: Record<string, unknown>) =>
  `${segment({ alg: "none", typ: "JWT" })}.${segment(claims)}.c2ln`

export interface AuthJsonInit {
  readonly accountId?: string
  readonly userId?: string
  readonly email?: string
  readonly plan?: string
  readonly exp?: number
}

// A Codex CLI auth.json as `codex login` writes it (codex-protocol.md §10.1), with fresh random secrets.
export const makeAuthJson = (init: AuthJsonInit = {}) => {
  const accountId = init.accountId ?? `acc-${randomBytes(4).toString("hex")}`
  const auth = {
    chatgpt_plan_type: init.plan ?? "pro",
    chatgpt_user_id: init.userId ?? "user-1",
    chatgpt_account_id: accountId
  }
  const tokens = {
    id_token: jwt({ email: init.email ?? "dev@example.com", "https://api.openai.com/auth": auth }),
    access_token: jwt({
      exp: init.exp ?? 1_900_000_000,
      "https://api.openai.com/auth": auth,
      nonce: randomBytes(8).toString("hex")
    }),
    refresh_token: `rt_${randomBytes(24).toString("hex")}`,
    account_id: accountId
  }
  return { auth_mode: "chatgpt", OPENAI_API_KEY: null, tokens, last_refresh: "2026-11-26T07:20:00.248Z" }
}
