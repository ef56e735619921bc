import { type Usage, usageOf } from "../Accounting/Usage.ts"

// What the relay learns from a Responses stream while passing its bytes through untouched.
export interface StreamFacts {
  completed: boolean
  usage: Usage | null
  errorCode: string | null
  rateLimitEvents: Array<unknown>
}

export const emptyFacts = (): StreamFacts => ({ completed: false, usage: null, errorCode: null, rateLimitEvents: [] })

const interesting = /^\{\s*"type"\s*:\s*"(response\.completed|response\.failed|response\.incomplete|codex\.rate_limits|error)"/
const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null ? Object.fromEntries(Object.entries(value)) : {}

// One event's JSON (an SSE `data:` payload or a websocket text frame). Most events are deltas; only the few that
// matter are parsed, recognised by their leading "type" (Codex ignores the SSE `event:` line, so do we).
export const observeEvent = (facts: StreamFacts, data: string) => {
  const match = interesting.exec(data)
  if (match === null) return
  let event: Record<string, unknown>
  try {
    event = record(JSON.parse(data))
  } catch {
    return
  }
  const response = record(event["response"])
  switch (match[1]) {
    case "response.completed":
      facts.completed = true
      facts.usage = usageOf(response["usage"])
      return
    case "response.failed":
      facts.errorCode = String(record(response["error"])["code"] ?? "response_failed")
      return
    case "response.incomplete":
      facts.errorCode = `incomplete:${String(record(response["incomplete_details"])["reason"] ?? "unknown")}`
      return
    case "codex.rate_limits":
      facts.rateLimitEvents.push(event)
      return
    default:
      facts.errorCode = errorCodeOf(event)
  }
}

// `{"error":{"code"|"type"}}`, the shape of Codex backend error bodies and websocket error frames.
export const errorCodeOf = (body: unknown): string => {
  const error = record(record(body)["error"])
  return String(error["code"] ?? error["type"] ?? "error")
}

export const makeSseTap = (facts: StreamFacts) => {
  const decoder = new TextDecoder()
  let pending = ""
  return (chunk: Uint8Array) => {
    pending += decoder.decode(chunk, { stream: true })
    let start = 0
    let newline = pending.indexOf("\n")
    while (newline !== -1) {
      if (pending.startsWith("data:", start)) {
        const from = start + (pending.charAt(start + 5) === " " ? 6 : 5)
        observeEvent(facts, pending.slice(from, pending.charAt(newline - 1) === "\r" ? newline - 1 : newline))
      }
      start = newline + 1
      newline = pending.indexOf("\n", start)
    }
    pending = pending.slice(start)
  }
}
