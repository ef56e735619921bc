import type { Headers } from "@effect/platform"
import { createHash } from "node:crypto"
import { isObject, modelOf } from "./JsonObject.ts"

export interface RequestFacts {
  readonly model: string | null
  // SHA-256 of the thread the request belongs to (session-id, thread-id or prompt_cache_key); never stored in clear.
  readonly threadKey: string | null
  readonly turnStateKey: string | null
}

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex")

const stringField = (body: Readonly<Record<string, unknown>>, name: string) => {
  const value = body[name]
  return typeof value === "string" && value !== "" ? value : undefined
}

// Codex's tool calls (images, search) carry no session header, only `x-codex-turn-metadata`: a JSON object naming the
// turn's thread_id and session_id. It is parsed (never searched), and ignored when it is not such an object.
const turnMetadataThread = (value: string | undefined) => {
  if (value === undefined) return undefined
  try {
    const metadata: unknown = JSON.parse(value)
    if (!isObject(metadata)) return undefined
    return stringField(metadata, "thread_id") ?? stringField(metadata, "session_id")
  } catch {
    return undefined
  }
}

export const requestFacts = (headers: Headers.Headers, body: Readonly<Record<string, unknown>>): RequestFacts => {
  const thread = headers["session-id"] ?? headers["thread-id"] ?? headers["session_id"] ?? headers["conversation_id"] ??
    headers["x-session-id"] ?? turnMetadataThread(headers["x-codex-turn-metadata"]) ??
    stringField(body, "prompt_cache_key")
  const turnState = headers["x-codex-turn-state"]
  return {
    model: modelOf(body) ?? null,
    threadKey: thread ? sha256(`thread:${thread}`) : null,
    turnStateKey: turnState ? turnStateKeyOf(turnState) : null
  }
}

export const turnStateKeyOf = (turnState: string) => sha256(`turn:${turnState}`)

// What an answer binds, on either transport: the thread to the account that served it, unless that account owns it
// already; and the turn state upstream returned to that account, unless the request already carried that same turn
// state on the thread's own account.
export const bindingOf = (
  facts: RequestFacts,
  accountId: string,
  owner: string | null,
  turnState: string | undefined
) => {
  const turnStateKey = turnState === undefined ? null : turnStateKeyOf(turnState)
  return {
    threadKey: owner === accountId ? null : facts.threadKey,
    turnStateKey: turnStateKey === facts.turnStateKey && owner === accountId ? null : turnStateKey
  }
}
