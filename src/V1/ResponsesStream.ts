import { streamCut, upstreamFailure, type V1ErrorAnswer } from "./Errors.ts"
import { numberAt, objectAt, stringAt, type UpstreamEvent } from "./UpstreamEvent.ts"

type Json = Readonly<Record<string, unknown>>

export interface PublicEvent {
  readonly type: string
  readonly sequence_number: number
  readonly [field: string]: unknown
}

// OpenAI's public Responses streaming events. The Codex backend also sends events of its own (codex.rate_limits,
// response.metadata, …) that no SDK knows; they are the gateway's business and are not passed on.
const publicEvents = new Set([
  "response.created",
  "response.queued",
  "response.in_progress",
  "response.output_item.added",
  "response.output_item.done",
  "response.content_part.added",
  "response.content_part.done",
  "response.output_text.delta",
  "response.output_text.done",
  "response.output_text.annotation.added",
  "response.refusal.delta",
  "response.refusal.done",
  "response.function_call_arguments.delta",
  "response.function_call_arguments.done",
  "response.custom_tool_call_input.delta",
  "response.custom_tool_call_input.done",
  "response.reasoning_summary_part.added",
  "response.reasoning_summary_part.done",
  "response.reasoning_summary_text.delta",
  "response.reasoning_summary_text.done",
  "response.reasoning_text.delta",
  "response.reasoning_text.done",
  "response.web_search_call.in_progress",
  "response.web_search_call.searching",
  "response.web_search_call.completed",
  "response.image_generation_call.in_progress",
  "response.image_generation_call.generating",
  "response.image_generation_call.partial_image",
  "response.image_generation_call.completed"
])

const terminalEvents = new Set(["response.completed", "response.failed", "response.incomplete", "error"])

// OpenAI's stream error event. The backend's own error events come in two shapes: OpenAI's (code and message at the
// top) and the websocket one (`{status, error: {type | code, message}}`, codex-protocol.md §5).
const errorEvent = (event: Json) => {
  const inner = objectAt(event, "error")
  return {
    type: "error",
    code: stringAt(event, "code") ?? stringAt(inner, "code") ?? stringAt(inner, "type") ?? "server_error",
    message: stringAt(event, "message") ?? stringAt(inner, "message") ?? "The Codex backend reported an error.",
    param: null
  }
}

export interface ResponsesStream {
  // the public events one upstream event becomes: none, or itself renumbered
  readonly push: (event: UpstreamEvent) => ReadonlyArray<PublicEvent>
  // upstream ended or broke: one error event unless a terminal event was already sent
  readonly end: () => ReadonlyArray<PublicEvent>
}

// Per request. Sequence numbers are given here, from 0 with no gaps, since vendor events are dropped and the
// backend leaves some events unnumbered. Nothing follows a terminal event. With store:false the backend may close
// with an empty `response.output` (the items came only as response.output_item.done), so the terminal event's
// response is given the items the stream carried, as the public API would have them.
export const makeResponsesStream = (): ResponsesStream => {
  let sequence = 0
  let finished = false
  const items = new Map<number, unknown>()
  const emit = (event: Json & { readonly type: string }): PublicEvent => ({ ...event, sequence_number: sequence++ })
  const withOutput = (response: Json): Json => {
    const output = response["output"]
    if (items.size === 0 || (Array.isArray(output) && output.length > 0)) return response
    return { ...response, output: [...items.entries()].sort(([a], [b]) => a - b).map(([, item]) => item) }
  }
  return {
    push: (event) => {
      if (finished) return []
      if (event.type === "error") {
        finished = true
        return [emit(errorEvent(event))]
      }
      if (terminalEvents.has(event.type)) {
        finished = true
        return [emit({ ...event, response: withOutput(objectAt(event, "response")) })]
      }
      if (!publicEvents.has(event.type)) return []
      if (event.type === "response.output_item.done") {
        items.set(numberAt(event, "output_index") ?? items.size, event["item"])
      }
      return [emit(event)]
    },
    end: () => {
      if (finished) return []
      finished = true
      return [emit({ type: "error", code: streamCut.code, message: streamCut.message, param: null })]
    }
  }
}

export type ResponsesOutcome =
  | { readonly _tag: "Answered"; readonly response: Json }
  | { readonly _tag: "Failed"; readonly answer: V1ErrorAnswer }

const failed = (code: string, message: string): ResponsesOutcome => ({
  _tag: "Failed",
  answer: upstreamFailure(code, message)
})

// A terminal public event as a non-streaming answer: a completed or incomplete response is the answer (OpenAI answers
// an incomplete one with 200 and its incomplete_details); a failure becomes an error answer with the backend's code;
// no terminal event at all means the stream was cut.
export const outcomeOf = (terminal: PublicEvent | undefined): ResponsesOutcome => {
  if (terminal === undefined) return failed(streamCut.code, streamCut.message)
  const response = objectAt(terminal, "response")
  if (terminal.type === "response.completed" || terminal.type === "response.incomplete") {
    return { _tag: "Answered", response }
  }
  const error = terminal.type === "error" ? terminal : objectAt(response, "error")
  return failed(
    stringAt(error, "code") ?? "server_error",
    stringAt(error, "message") ?? "The Codex backend could not answer."
  )
}

export interface ResponsesCollector {
  readonly push: (event: UpstreamEvent) => void
  readonly end: () => ResponsesOutcome
}

// For a client that asked for no stream: the upstream stream folded into the final response object.
export const makeResponsesCollector = (): ResponsesCollector => {
  const stream = makeResponsesStream()
  let terminal: PublicEvent | undefined
  return {
    push: (event) => {
      for (const sent of stream.push(event)) if (terminalEvents.has(sent.type)) terminal = sent
    },
    end: () => outcomeOf(terminal)
  }
}
