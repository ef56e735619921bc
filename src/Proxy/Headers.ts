import type { Headers } from "@effect/platform"
import { Redacted } from "effect"

// Codex request headers passed through unchanged (codex-protocol.md §2, §13). Everything else — the client's
// Authorization, cookies, hop-by-hop headers, and any account headers a client might try to set — is dropped.
const forwardedNames = new Set([
  "accept",
  "content-type",
  "content-encoding",
  "originator",
  "user-agent",
  "session-id",
  "session_id",
  "thread-id",
  "conversation_id",
  "x-client-request-id",
  "x-session-id",
  "openai-beta",
  "version"
])
const forwardedPrefixes = ["x-codex-", "x-openai-", "x-oai-", "x-responsesapi-"]
const accountOwned = new Set(["x-openai-fedramp", "x-openai-account-routing-override"])

export const forwardRequestHeaders = (headers: Headers.Headers): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (accountOwned.has(name)) continue
    if (forwardedNames.has(name) || forwardedPrefixes.some((prefix) => name.startsWith(prefix))) out[name] = value
  }
  return out
}

export interface AccountHeaders {
  readonly accessToken: Redacted.Redacted<string>
  readonly chatgptAccountId: string
  readonly fedramp: boolean
}

// The account's own credentials for an upstream request; the token leaves its Redacted wrapper only here.
export const accountHeaders = (account: AccountHeaders): Record<string, string> => ({
  authorization: `Bearer ${Redacted.value(account.accessToken)}`,
  "chatgpt-account-id": account.chatgptAccountId,
  ...(account.fedramp ? { "x-openai-fedramp": "true" } : {})
})

// Response headers Codex reads (codex-protocol.md §4, §9), plus what each route needs to be understood.
const relayedNames = new Set([
  "content-type",
  "openai-model",
  "x-models-etag",
  "x-reasoning-included",
  "x-request-id",
  "x-oai-request-id",
  "retry-after",
  "etag",
  "location",
  "cache-control"
])

export const relayResponseHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (relayedNames.has(name) || name.startsWith("x-codex-")) out[name] = value
  }
  return out
}
