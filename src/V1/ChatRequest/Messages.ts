import { Either, Schema } from "effect"
import { isObject } from "../../Proxy/JsonObject.ts"
import { instructionText } from "../CodexBody.ts"
import { unsupportedParameter, unsupportedValue, type V1BadRequest } from "../Errors.ts"
import { optional } from "../Fields.ts"

const Text = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
const Image = Schema.Struct({
  type: Schema.Literal("image_url"),
  image_url: Schema.Struct({ url: Schema.String, detail: optional(Schema.Literal("auto", "low", "high")) })
})
const Refusal = Schema.Struct({ type: Schema.Literal("refusal"), refusal: Schema.String })
const content = <A, I>(part: Schema.Schema<A, I>) => Schema.Union(Schema.String, Schema.Array(part))

const ToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal("function"),
  function: Schema.Struct({ name: Schema.String, arguments: Schema.String })
})

export const Message = Schema.Union(
  Schema.Struct({ role: Schema.Literal("system", "developer"), content: content(Text) }),
  Schema.Struct({ role: Schema.Literal("user"), content: content(Schema.Union(Text, Image)) }),
  Schema.Struct({
    role: Schema.Literal("assistant"),
    content: optional(content(Schema.Union(Text, Refusal))),
    refusal: optional(Schema.String),
    tool_calls: optional(Schema.Array(ToolCall))
  }),
  Schema.Struct({ role: Schema.Literal("tool"), tool_call_id: Schema.String, content: content(Text) })
)
type Message = typeof Message.Type
type Item = Readonly<Record<string, unknown>>

const refusedParts: Readonly<Record<string, string>> = {
  input_audio: "Codex models take no audio",
  file: "files are not supported through the Codex backend"
}

// The message forms the backend cannot take are named before the messages are decoded, so the client reads "not
// supported" rather than "not a valid message".
export const refuseUnsupportedMessages = (messages: unknown): Either.Either<void, V1BadRequest> => {
  if (!Array.isArray(messages)) return Either.void
  for (const [index, message] of messages.entries()) {
    if (!isObject(message)) continue
    const at = `messages[${index}]`
    if (message["role"] === "function") {
      return Either.left(unsupportedValue(`${at}.role`, "function messages are the legacy form; send role tool"))
    }
    if (message["audio"] !== undefined && message["audio"] !== null) {
      return Either.left(unsupportedParameter(`${at}.audio`, "is not supported: Codex models answer in text only"))
    }
    if (message["function_call"] !== undefined && message["function_call"] !== null) {
      return Either.left(
        unsupportedParameter(`${at}.function_call`, "is the legacy form of tool_calls; send tool_calls")
      )
    }
    for (const [part, value] of (Array.isArray(message["content"]) ? message["content"] : []).entries()) {
      const type = isObject(value) ? value["type"] : undefined
      if (typeof type === "string" && Object.hasOwn(refusedParts, type)) {
        return Either.left(unsupportedValue(`${at}.content[${part}].type`, refusedParts[type] ?? type))
      }
    }
  }
  return Either.void
}

type UserPart = Extract<Message, { role: "user" }>["content"] extends string | ReadonlyArray<infer P> ? P : never

const userPart = (part: UserPart): Item =>
  part.type === "text"
    ? { type: "input_text", text: part.text }
    : { type: "input_image", image_url: part.image_url.url, detail: part.image_url.detail ?? "auto" }

// An assistant turn is its message (text and refusal parts) followed by one function_call item per tool call, the
// order the backend itself emits them in.
const assistantItems = (message: Extract<Message, { role: "assistant" }>): Array<Item> => {
  const parts: Array<Item> = typeof message.content === "string"
    ? (message.content === "" ? [] : [{ type: "output_text", text: message.content }])
    : (message.content ?? []).map((part) =>
      part.type === "text" ? { type: "output_text", text: part.text } : { type: "refusal", refusal: part.refusal }
    )
  if (message.refusal) parts.push({ type: "refusal", refusal: message.refusal })
  const calls = (message.tool_calls ?? []).map((call) => ({
    type: "function_call",
    call_id: call.id,
    name: call.function.name,
    arguments: call.function.arguments
  }))
  return parts.length > 0 ? [{ type: "message", role: "assistant", content: parts }, ...calls] : calls
}

const joined = (content: string | ReadonlyArray<{ readonly text: string }>) =>
  typeof content === "string" ? content : content.map((part) => part.text).join("")

// Messages become Responses input items; system and developer messages become instructions, in order (the backend
// answers "System messages are not allowed").
export const translateMessages = (messages: ReadonlyArray<Message>) =>
  Either.gen(function*() {
    const items: Array<Item> = []
    const lifted: Array<string> = []
    for (const [index, message] of messages.entries()) {
      switch (message.role) {
        case "system":
        case "developer":
          lifted.push(yield* instructionText(message.content, `messages[${index}].content`))
          break
        case "user":
          items.push({
            type: "message",
            role: "user",
            content: typeof message.content === "string"
              ? [{ type: "input_text", text: message.content }]
              : message.content.map(userPart)
          })
          break
        case "assistant":
          items.push(...assistantItems(message))
          break
        case "tool":
          items.push({ type: "function_call_output", call_id: message.tool_call_id, output: joined(message.content) })
      }
    }
    return { items, lifted }
  })
