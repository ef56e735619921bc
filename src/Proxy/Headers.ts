import type { Headers } from "@effect/platform"
import { Redacted } from "effect"

// Codex request headers passed through unchanged: the names Codex sends (codex-protocol.md §2, §13, and the names its
// binary holds), each by name. Everything else is dropped: the client's Authorization and cookies, hop-by-hop headers,
// account-owned headers (X-OpenAI-Fedramp, X-OpenAI-Account-Routing-Override, the x-openai-internal-* residency and
// feature switches), and any other x-openai-*, x-codex-* or x-oai-* name a client invents.
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
  "version",
  "x-codex-beta-features",
  "x-codex-window-id",
  "x-codex-turn-metadata",
  "x-codex-turn-state",
  "x-codex-routing-hint",
  "x-codex-parent-thread-id",
  "x-codex-installation-id",
  "x-codex-root-turn-id",
  "x-codex-inference-call-id",
  "x-codex-cyber-access-program",
  "x-openai-subagent",
  "x-openai-memgen-request",
  "x-oai-attestation",
  "x-responsesapi-include-timing-metrics",
  // the image tool's turn (images/generations, images/edits) and the realtime call's protocol switch
  "x-codex-image-turn-id",
  "openai-alpha",
  // a responses-lite turn's tools travel as an input item, which upstream reads only with this header (Codex 0.169
  // sends it for every model but gpt-5.5): it describes the body, it switches nothing of the account's
  "x-openai-internal-codex-responses-lite"
])

export const forwardRequestHeaders = (headers: Headers.Headers): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (forwardedNames.has(name)) out[name] = value
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
