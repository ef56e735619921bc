import { isRecord, type JsonObject, stringField } from "./Json.ts"

// Tool-call trigger: the last conversation item is a user message whose text contains one of these phrases
// ("run echo" is what the captured CLI sessions typed).
export const TOOL_TRIGGER = /\b(run tool|use a tool|run echo)\b/i
export const TOOL_ARGUMENTS = JSON.stringify({ cmd: "echo fake-tool" })

const messageText = (item: unknown): string => {
  if (!isRecord(item)) return ""
  const content = item["content"]
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  return content.map((part) => stringField(part, "text") ?? "").join("")
}

const isUserMessage = (item: unknown): boolean =>
  isRecord(item) && (item["type"] === "message" || item["type"] === undefined) && item["role"] === "user"

// Codex 0.169's namespaced tools (the model calls them as function calls with a `namespace`): "search the web" ⇒
// standalone web search (`web.run`, POST alpha/search); "draw an image" ⇒ the image tool (`image_gen.imagegen`, POST
// images/generations).
const WEB_SEARCH_TRIGGER = /\bsearch the web\b/i
const IMAGE_TRIGGER = /\bdraw an image\b/i

export interface ToolCall {
  readonly name: string
  readonly namespace?: string
  readonly arguments: string
}

const execCall: ToolCall = { name: "exec_command", arguments: TOOL_ARGUMENTS }
const webSearchCall: ToolCall = {
  name: "run",
  namespace: "web",
  arguments: JSON.stringify({ search_query: [{ q: "codex pooler" }] })
}
const imageCall: ToolCall = {
  name: "imagegen",
  namespace: "image_gen",
  arguments: JSON.stringify({ prompt: "a red fox" })
}

export type Generator = "message" | { readonly call: ToolCall } | "compaction"

// Settings items Codex appends after the user's message (seen with 0.169: `configuration_update`) are not turns.
const settingsItems = new Set(["configuration_update", "additional_tools"])

export const chooseGenerator = (input: ReadonlyArray<unknown>): Generator => {
  if (input.some((item) => stringField(item, "type") === "compaction_trigger")) return "compaction"
  const last = input.findLast((item) => !settingsItems.has(stringField(item, "type") ?? ""))
  if (!isUserMessage(last)) return "message"
  const text = messageText(last)
  if (TOOL_TRIGGER.test(text)) return { call: execCall }
  if (WEB_SEARCH_TRIGGER.test(text)) return { call: webSearchCall }
  if (IMAGE_TRIGGER.test(text)) return { call: imageCall }
  return "message"
}

export const splitDeltas = (text: string): ReadonlyArray<string> => {
  const parts = text.match(/\S+\s*|\s+/g)
  return parts === null || parts.length === 0 ? [text] : parts
}

export const messageItemEvents = (id: string, text: string): { events: Array<JsonObject>; item: JsonObject } => {
  const part = { type: "output_text", text, annotations: [] }
  const item = { id, type: "message", status: "completed", role: "assistant", content: [part] }
  const at = { item_id: id, output_index: 0, content_index: 0 }
  const events: Array<JsonObject> = [
    {
      type: "response.output_item.added",
      output_index: 0,
      item: { id, type: "message", status: "in_progress", role: "assistant", content: [] }
    },
    { type: "response.content_part.added", ...at, part: { ...part, text: "" } },
    ...splitDeltas(text).map((delta) => ({ type: "response.output_text.delta", ...at, delta })),
    { type: "response.output_text.done", ...at, text },
    { type: "response.content_part.done", ...at, part },
    { type: "response.output_item.done", output_index: 0, item }
  ]
  return { events, item }
}

export const functionCallEvents = (
  n: number,
  call: ToolCall = execCall
): { events: Array<JsonObject>; item: JsonObject } => {
  const base = { id: `fc_fake_${n}`, type: "function_call", ...call }
  const item = { ...base, status: "completed", call_id: `call_fake_${n}` }
  return {
    events: [
      { type: "response.output_item.added", output_index: 0, item: { ...item, status: "in_progress" } },
      { type: "response.output_item.done", output_index: 0, item }
    ],
    item
  }
}

export const compactionEvents = (n: number, accountId: string): { events: Array<JsonObject>; item: JsonObject } => {
  const encrypted = Buffer.from(`fake-compaction-blob:${accountId}:${n}`).toString("base64")
  const item = { id: `cmp_fake_${n}`, type: "compaction", encrypted_content: encrypted }
  return {
    events: [
      { type: "response.output_item.added", output_index: 0, item: { ...item, status: "in_progress" } },
      { type: "response.output_item.done", output_index: 0, item }
    ],
    item
  }
}

export const retainedUserMessages = (input: ReadonlyArray<unknown>): ReadonlyArray<unknown> =>
  input.filter((item) => isUserMessage(item))
