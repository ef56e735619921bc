import { Schema } from "effect"

// OpenAI's error body, which the openai SDKs read into an APIError (message, type, param, code).
export interface V1ErrorBody {
  readonly error: {
    readonly message: string
    readonly type: string
    readonly param: string | null
    readonly code: string | null
  }
}

export interface V1ErrorAnswer {
  readonly status: number
  readonly body: V1ErrorBody
}

// A public request the gateway refuses before anything is sent upstream; the route answers 400 with `param` naming
// the field (`messages[2].content`), as OpenAI does.
export class V1BadRequest extends Schema.TaggedError<V1BadRequest>()("V1BadRequest", {
  message: Schema.String,
  param: Schema.NullOr(Schema.String),
  code: Schema.String
}) {}

export const unknownParameter = (param: string) =>
  new V1BadRequest({ message: `Unrecognized request argument supplied: ${param}`, param, code: "unknown_parameter" })

export const unsupportedParameter = (param: string, why: string) =>
  new V1BadRequest({ message: `Unsupported parameter: '${param}' ${why}`, param, code: "unsupported_parameter" })

export const unsupportedValue = (param: string, why: string) =>
  new V1BadRequest({ message: `Unsupported value for '${param}': ${why}`, param, code: "unsupported_value" })

export const invalidValue = (param: string | null, why: string) =>
  new V1BadRequest({
    message: param === null ? why : `Invalid value for '${param}': ${why}`,
    param,
    code: "invalid_value"
  })

export const missingParameter = (param: string | null) =>
  new V1BadRequest({ message: `Missing required parameter: '${param}'.`, param, code: "missing_required_parameter" })

export const errorBody = (type: string, code: string | null, message: string, param: string | null = null) => ({
  error: { message, type, param, code }
})

export const badRequestAnswer = (error: V1BadRequest): V1ErrorAnswer => ({
  status: 400,
  body: errorBody("invalid_request_error", error.code, error.message, error.param)
})

// What the gateway says when the upstream stream ends or breaks before its terminal event.
export const streamCut = {
  code: "upstream_stream_interrupted",
  message: "The Codex backend connection was lost mid-response; nothing after this point was received."
} as const

// The HTTP status a non-streaming answer gets for a failure the backend reported inside its stream (response.failed
// or an error event, codex-protocol.md §4), so SDK clients raise the same exception class the public API would.
const failureStatus = new Map<string, number>([
  ["context_length_exceeded", 400],
  ["invalid_prompt", 400],
  ["invalid_request_error", 400],
  ["cyber_policy", 400],
  ["rate_limit_exceeded", 429],
  ["usage_limit_reached", 429],
  ["usage_not_included", 429],
  ["insufficient_quota", 429],
  ["server_is_overloaded", 503],
  ["slow_down", 503],
  [streamCut.code, 502]
])

const typeOfStatus = (status: number) =>
  status === 400 ? "invalid_request_error" : status === 429 ? "rate_limit_exceeded" : "server_error"

export const upstreamFailure = (code: string, message: string): V1ErrorAnswer => {
  const status = failureStatus.get(code) ?? 500
  return { status, body: errorBody(typeOfStatus(status), code, message) }
}
