import {
  type ChatOptions,
  type ChatUsage,
  chatUsage,
  type FinishReason,
  finishReason,
  toolCallOf
} from "./ChatCompletion.ts"
import type { V1ErrorBody } from "./Errors.ts"
import { makeResponsesStream, outcomeOf, type PublicEvent } from "./ResponsesStream.ts"
import { numberAt, objectAt, stringAt, type UpstreamEvent } from "./UpstreamEvent.ts"

export interface ChatStreamOptions extends ChatOptions {
  // stream_options.include_usage
  readonly includeUsage: boolean
}

export interface ChatChunk {
  readonly id: string
  readonly object: "chat.completion.chunk"
  readonly created: number
  readonly model: string
  readonly choices: ReadonlyArray<{
    readonly index: 0
    readonly delta: Readonly<Record<string, unknown>>
    readonly logprobs: null
    readonly finish_reason: FinishReason | null
  }>
  readonly usage?: ChatUsage | null
}

// What the route writes as one `data:` line each: chunks, or, when the stream fails, OpenAI's error object (the
// openai SDKs raise an APIError on a data line holding `error`).
export type ChatStreamData = ChatChunk | V1ErrorBody

export interface ChatStream {
  readonly push: (event: UpstreamEvent) => ReadonlyArray<ChatStreamData>
  // upstream ended or broke: the error object unless the stream already ended
  readonly end: () => ReadonlyArray<ChatStreamData>
  // "completed" once the last chunk is out: the route then writes `data: [DONE]`. "failed" after the error object:
  // no [DONE] follows, since to a client that does not look for `error` a [DONE] would make a cut answer look whole.
  readonly status: () => "streaming" | "completed" | "failed"
}

// Per request, on top of the Responses translator (which drops vendor events and guarantees one terminal event).
// Text deltas become content deltas; each function call becomes one tool_calls entry, opened by its
// output_item.added and grown by argument deltas; what output_item.done holds beyond the deltas sent is sent last, so
// a backend that sends no deltas still yields the whole arguments.
export const makeChatStream = (options: ChatStreamOptions): ChatStream => {
  const responses = makeResponsesStream()
  let status: "streaming" | "completed" | "failed" = "streaming"
  let opened = false
  const calls = new Map<string, { readonly index: number; sent: string }>()
  const frame = {
    id: options.id,
    object: "chat.completion.chunk",
    created: options.created,
    model: options.model
  } as const
  const chunk = (delta: Readonly<Record<string, unknown>>, finish: FinishReason | null = null): ChatChunk => ({
    ...frame,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(options.includeUsage ? { usage: null } : {})
  })
  // the first chunk carries the role, as OpenAI's does
  const open = (): Array<ChatChunk> => {
    if (opened) return []
    opened = true
    return [chunk({ role: "assistant", content: "", refusal: null })]
  }
  const keyOf = (event: PublicEvent, itemId: string | undefined) => itemId ?? `#${numberAt(event, "output_index")}`
  const toolDelta = (call: Readonly<Record<string, unknown>>) => chunk({ tool_calls: [call] })
  const callItem = (event: PublicEvent): Array<ChatChunk> => {
    const item = objectAt(event, "item")
    if (item["type"] !== "function_call") return []
    const key = keyOf(event, stringAt(item, "id"))
    const call = toolCallOf(item)
    const known = calls.get(key)
    if (known === undefined) {
      calls.set(key, { index: calls.size, sent: call.function.arguments })
      return [...open(), toolDelta({ index: calls.size - 1, ...call })]
    }
    const rest = call.function.arguments.startsWith(known.sent) ? call.function.arguments.slice(known.sent.length) : ""
    return rest === "" ? [] : [toolDelta({ index: known.index, function: { arguments: rest } })]
  }
  const finish = (event: PublicEvent): Array<ChatChunk> => {
    status = "completed"
    const response: Readonly<Record<string, unknown>> = {
      ...(event.type === "response.incomplete" ? { status: "incomplete" } : {}),
      ...objectAt(event, "response")
    }
    const last = [...open(), chunk({}, finishReason(response, calls.size > 0))]
    if (!options.includeUsage) return last
    return [...last, { ...frame, choices: [], usage: chatUsage(response["usage"]) }]
  }
  const translate = (event: PublicEvent): ReadonlyArray<ChatStreamData> => {
    switch (event.type) {
      case "response.created":
        return open()
      case "response.output_text.delta":
        return [...open(), chunk({ content: stringAt(event, "delta") ?? "" })]
      case "response.refusal.delta":
        return [...open(), chunk({ refusal: stringAt(event, "delta") ?? "" })]
      case "response.output_item.added":
      case "response.output_item.done":
        return callItem(event)
      case "response.function_call_arguments.delta": {
        const call = calls.get(keyOf(event, stringAt(event, "item_id")))
        const delta = stringAt(event, "delta") ?? ""
        if (call === undefined || delta === "") return []
        call.sent += delta
        return [toolDelta({ index: call.index, function: { arguments: delta } })]
      }
      case "response.completed":
      case "response.incomplete":
        return finish(event)
      case "response.failed":
      case "error": {
        status = "failed"
        const outcome = outcomeOf(event)
        return outcome._tag === "Failed" ? [outcome.answer.body] : []
      }
      default:
        return []
    }
  }
  return {
    push: (event) => responses.push(event).flatMap(translate),
    end: () => responses.end().flatMap(translate),
    status: () => status
  }
}
