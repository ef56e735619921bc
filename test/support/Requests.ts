import { Effect } from "effect"

export const responsesBody = (text = "hello", extra: Record<string, unknown> = {}) => ({
  model: "gpt-5.5",
  stream: true,
  input: [{ type: "message", role: "user", content: [{ type: "input_text", text }] }],
  store: false,
  prompt_cache_key: "thread-test",
  ...extra
})

// The headers Codex CLI 0.169 sends on POST /responses (codex-protocol.md §2.1), with the Pool key as bearer.
export const codexHeaders = (key: string, thread = "01a216ab-0000-7000-8000-000000000001") => ({
  authorization: `Bearer ${key}`,
  "content-type": "application/json",
  accept: "text/event-stream",
  originator: "codex_exec",
  "user-agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)",
  "session-id": thread,
  "thread-id": thread,
  "x-client-request-id": thread,
  "x-codex-window-id": `${thread}:0`,
  "x-codex-beta-features": "remote_compaction_v2",
  "x-codex-turn-metadata": JSON.stringify({ session_id: thread, request_kind: "turn" })
})

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

export const send = (url: string, init: RequestInit = {}) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(url, init)
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

export const sseEvents = (text: string): Array<{ readonly type: string; readonly [key: string]: unknown }> =>
  text.split("\n").filter((line) => line.startsWith("data: ")).flatMap((line) => {
    try {
      return [JSON.parse(line.slice(6))]
    } catch {
      return []
    }
  })
