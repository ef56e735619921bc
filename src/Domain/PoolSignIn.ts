// A Pool key as Codex's own sign-in (auth.json with ChatGPT tokens), so that the calls Codex makes with its sign-in
// rather than with the provider's key (usage for /status, the image tool's switch) reach the gateway with the Pool key.
// Codex reads its access token as a JWT (unsigned is enough: it checks no signature), so the key travels inside one:
// the gateway takes the key from that token's `codex_pooler_key` claim and verifies it like any Pool key. The token
// grants nothing the key does not: anyone holding it holds the key.
const claim = "codex_pooler_key"
const tenYears = 10 * 365 * 24 * 3600

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const unsignedJwt = (claims: Readonly<Record<string, unknown>>) =>
  `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.unsigned`

const payloadOf = (token: string): unknown => {
  const parts = token.split(".")
  if (parts.length !== 3 || parts[1] === undefined || parts[1].length > 8192) return undefined
  try {
    return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"))
  } catch {
    return undefined
  }
}

// The Pool key a bearer token presents: the token itself, or the key inside a Codex sign-in token made from it.
export const poolKeyOf = (token: string): string => {
  if (token.startsWith("cpk_")) return token
  const payload = payloadOf(token)
  if (typeof payload !== "object" || payload === null || !(claim in payload)) return token
  const key = (payload as Readonly<Record<string, unknown>>)[claim]
  return typeof key === "string" && key.startsWith("cpk_") ? key : token
}

// Codex's auth.json for a Pool key (CODEX_HOME/auth.json). The ChatGPT account it names is the Pool's stand-in: Codex
// shows it and sends it along; the gateway ignores it.
export const poolAccountId = "codex-pooler"

export const codexAuthJson = (key: string, nowSeconds: number) => {
  const account = poolAccountId
  const auth = { chatgpt_plan_type: "pro", chatgpt_user_id: account, user_id: account, chatgpt_account_id: account }
  const identity = {
    iss: "codex-pooler",
    sub: account,
    iat: nowSeconds,
    exp: nowSeconds + tenYears,
    "https://api.openai.com/auth": auth
  }
  return {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: {
      id_token: unsignedJwt({ ...identity, email: "pool@codex-pooler.invalid", email_verified: true }),
      access_token: unsignedJwt({ ...identity, [claim]: key }),
      refresh_token: "",
      account_id: account
    },
    last_refresh: new Date(nowSeconds * 1000).toISOString()
  }
}
