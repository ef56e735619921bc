import type { V1ErrorAnswer } from "./Errors.ts"
import { makeResponsesCollector } from "./ResponsesStream.ts"
import { listAt, numberAt, objectAt, stringAt, type UpstreamEvent } from "./UpstreamEvent.ts"

type Json = Readonly<Record<string, unknown>>

// What the route decides for a Chat Completions answer: its id (`chatcmpl-…`), the model the client named, and the
// unix second it was created.
export interface ChatOptions {
  readonly id: string
  readonly model: string
  readonly created: number
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter"

// response.incomplete says why in incomplete_details.reason: max_output_tokens (the model's own cap, since the
// client's is not sent) is "length", content_filter is itself.
export const finishReason = (response: Json, toolCalls: boolean): FinishReason => {
  const reason = stringAt(objectAt(response, "incomplete_details"), "reason")
  if (response["status"] === "incomplete" || reason !== undefined) {
    return reason === "content_filter" ? "content_filter" : "length"
  }
  return toolCalls ? "tool_calls" : "stop"
}

export interface ChatUsage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly total_tokens: number
  readonly prompt_tokens_details: { readonly cached_tokens: number }
  readonly completion_tokens_details: { readonly reasoning_tokens: number }
}

// Responses usage (codex-protocol.md §4) in Chat Completions' names; none when the backend reported none.
export const chatUsage = (usage: unknown): ChatUsage | null => {
  const input = numberAt(usage, "input_tokens")
  const output = numberAt(usage, "output_tokens")
  if (input === undefined || output === undefined) return null
  return {
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: numberAt(usage, "total_tokens") ?? input + output,
    prompt_tokens_details: { cached_tokens: numberAt(objectAt(usage, "input_tokens_details"), "cached_tokens") ?? 0 },
    completion_tokens_details: {
      reasoning_tokens: numberAt(objectAt(usage, "output_tokens_details"), "reasoning_tokens") ?? 0
    }
  }
}

export const toolCallOf = (item: unknown) => ({
  id: stringAt(item, "call_id") ?? "",
  type: "function",
  function: { name: stringAt(item, "name") ?? "", arguments: stringAt(item, "arguments") ?? "" }
})

// The final response as a `chat.completion`: the text of its messages, its function calls as tool_calls (reasoning
// items have no place in Chat Completions).
const chatCompletionOf = (response: Json, options: ChatOptions) => {
  const texts: Array<string> = []
  const refusals: Array<string> = []
  const toolCalls: Array<ReturnType<typeof toolCallOf>> = []
  for (const item of listAt(response, "output")) {
    const type = stringAt(item, "type")
    if (type === "function_call") toolCalls.push(toolCallOf(item))
    if (type !== "message") continue
    for (const part of listAt(item, "content")) {
      texts.push(stringAt(part, "type") === "output_text" ? stringAt(part, "text") ?? "" : "")
      refusals.push(stringAt(part, "type") === "refusal" ? stringAt(part, "refusal") ?? "" : "")
    }
  }
  const content = texts.join("")
  const refusal = refusals.join("")
  const usage = chatUsage(response["usage"])
  return {
    id: options.id,
    object: "chat.completion",
    created: options.created,
    model: options.model,
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: content === "" ? null : content,
        refusal: refusal === "" ? null : refusal,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {})
      },
      logprobs: null,
      finish_reason: finishReason(response, toolCalls.length > 0)
    }],
    ...(usage === null ? {} : { usage })
  }
}

export type ChatOutcome =
  | { readonly _tag: "Answered"; readonly completion: ReturnType<typeof chatCompletionOf> }
  | { readonly _tag: "Failed"; readonly answer: V1ErrorAnswer }

export interface ChatCollector {
  readonly push: (event: UpstreamEvent) => void
  readonly end: () => ChatOutcome
}

// For a client that asked for no stream: the Responses collector's final response, as a chat.completion.
export const makeChatCollector = (options: ChatOptions): ChatCollector => {
  const responses = makeResponsesCollector()
  return {
    push: responses.push,
    end: () => {
      const outcome = responses.end()
      return outcome._tag === "Failed"
        ? outcome
        : { _tag: "Answered", completion: chatCompletionOf(outcome.response, options) }
    }
  }
}
