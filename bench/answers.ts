// What counts as a whole answer on each route the SSE bench loads; anything else is an error.
export interface Route {
  readonly path: string
  readonly complete: (text: string) => boolean
}

type Json = Readonly<Record<string, unknown>>

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

const frames = (text: string) => text.trimEnd().split("\n\n")

const parsed = (data: string | undefined): Json | null => {
  if (data === undefined) return null
  try {
    const value: unknown = JSON.parse(data)
    return isObject(value) ? value : null
  } catch {
    return null
  }
}

// Codex: the last SSE frame is `event: response.completed` with a matching data payload.
export const completed = (text: string) => {
  const last = frames(text).at(-1) ?? ""
  return /^event: response\.completed$/m.test(last) &&
    parsed(/^data: (.*)$/m.exec(last)?.[1])?.["type"] === "response.completed"
}

// The only choice of a `data:` frame holding a chat.completion.chunk
const choiceOf = (frame: string | undefined): Json | null => {
  const chunk = frame?.startsWith("data: ") ? parsed(frame.slice(6)) : null
  const choices = chunk?.["object"] === "chat.completion.chunk" ? chunk["choices"] : undefined
  const first: unknown = Array.isArray(choices) && choices.length === 1 ? choices[0] : undefined
  return isObject(first) ? first : null
}

// Chat Completions: only `data:` frames; the first a chunk opening the assistant's message, the one before the last a
// chunk with a finish_reason, the last `data: [DONE]` (a stream that failed ends with its error object and no [DONE]).
export const chatCompleted = (text: string) => {
  const all = frames(text)
  if (all.length < 3 || all.at(-1) !== "data: [DONE]" || !all.every((frame) => frame.startsWith("data: "))) return false
  const delta = choiceOf(all[0])?.["delta"]
  return isObject(delta) && delta["role"] === "assistant" && typeof choiceOf(all.at(-2))?.["finish_reason"] === "string"
}

export const codexRoute: Route = { path: "/backend-api/codex/responses", complete: completed }
export const chatRoute: Route = { path: "/v1/chat/completions", complete: chatCompleted }
