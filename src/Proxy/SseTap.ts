import { type Usage, usageOf } from "../Accounting/Usage.ts"
import { errorBodyLimit } from "./Json.ts"

// What the relay learns from a Responses stream while passing its bytes through untouched.
export interface StreamFacts {
  completed: boolean
  usage: Usage | null
  errorCode: string | null
  rateLimitEvents: Array<unknown>
}

export const emptyFacts = (): StreamFacts => ({ completed: false, usage: null, errorCode: null, rateLimitEvents: [] })

const interesting =
  /^\{\s*"type"\s*:\s*"(response\.completed|response\.failed|response\.incomplete|codex\.rate_limits|error)"/
export const record = (value: unknown): Record<string, unknown> =>
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

// A websocket frame's leading "type" is read from its first bytes: a delta, most frames, is passed without being
// decoded at all.
const headBytes = 256

export const observeFrame = (facts: StreamFacts, data: Buffer) => {
  if (interesting.test(data.toString("latin1", 0, headBytes))) observeEvent(facts, data.toString("utf8"))
}

// `{"error":{"code"|"type"}}`, the shape of Codex backend error bodies and websocket error frames.
export const errorCodeOf = (body: unknown): string => {
  const error = record(record(body)["error"])
  return String(error["code"] ?? error["type"] ?? "error")
}

// A line longer than this is skipped to its end, not parsed. The largest event worth reading, response.completed,
// carries the whole output (a turn's text, tool calls and encrypted reasoning: hundreds of KiB at most); deltas are
// small. 8 MiB keeps every real event and bounds what one stream can make the relay hold.
export const sseLineLimit = Math.max(errorBodyLimit, 8 * 1024 * 1024)

const observeLine = (facts: StreamFacts, line: string, onEvent: ((data: string) => void) | undefined) => {
  if (!line.startsWith("data:")) return
  const end = line.endsWith("\r") ? line.length - 1 : line.length
  const data = line.slice(line.charAt(5) === " " ? 6 : 5, end)
  observeEvent(facts, data)
  onEvent?.(data)
}

// Each chunk is searched for newlines once; the unfinished line is kept in parts, joined only when it ends. `onEvent`
// is handed every event's data as well (a surface that translates the stream).
export const makeSseTap = (facts: StreamFacts, lineLimit = sseLineLimit, onEvent?: (data: string) => void) => {
  const decoder = new TextDecoder()
  let parts: Array<string> = []
  let pending = 0
  let skipping = false
  const tap = (chunk: Uint8Array) => {
    const text = decoder.decode(chunk, { stream: true })
    let from = 0
    for (let newline = text.indexOf("\n"); newline !== -1; newline = text.indexOf("\n", from)) {
      const piece = text.slice(from, newline)
      if (!skipping && pending + piece.length <= lineLimit) {
        observeLine(facts, parts.length === 0 ? piece : parts.join("") + piece, onEvent)
      }
      parts = []
      pending = 0
      skipping = false
      from = newline + 1
    }
    if (skipping || from === text.length) return
    const rest = from === 0 ? text : text.slice(from)
    if (pending + rest.length > lineLimit) {
      parts = []
      pending = 0
      skipping = true
      return
    }
    parts.push(rest)
    pending += rest.length
  }
  // How much of an unfinished line is held, for tests of the bound.
  return Object.assign(tap, { pending: () => pending })
}
