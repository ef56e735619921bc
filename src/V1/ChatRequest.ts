import { Either, Schema } from "effect"
import { Message, refuseUnsupportedMessages, translateMessages } from "./ChatRequest/Messages.ts"
import {
  ResponseFormat,
  responsesTool,
  responsesToolChoice,
  textFormat,
  Tool,
  ToolChoice
} from "./ChatRequest/Tools.ts"
import { codexBody, defined, serviceTierOf, type TranslateOptions, type V1Translation } from "./CodexBody.ts"
import type { V1BadRequest } from "./Errors.ts"
import { commonRules, type FieldRule, Model, optional, readRequest, Rule, sampling } from "./Fields.ts"

const textOnly = "Codex models answer in text only"
const noLogprobs = "the Codex backend returns no log probabilities"

export const chatRules = {
  ...commonRules,
  messages: Rule.take,
  response_format: Rule.take,
  reasoning_effort: Rule.take,
  verbosity: Rule.take,
  stream_options: Rule.take,
  // the backend refuses any output cap; the model's own limit applies (finish_reason "length" still says so)
  max_tokens: Rule.drop(),
  max_completion_tokens: Rule.drop(),
  n: Rule.noOpOnly(Rule.is(1), "only 1: the Codex backend answers with one choice"),
  presence_penalty: Rule.noOpOnly(Rule.is(0), `only the default (0) is supported; ${sampling}`),
  frequency_penalty: Rule.noOpOnly(Rule.is(0), `only the default (0) is supported; ${sampling}`),
  logprobs: Rule.noOpOnly(Rule.is(false), `only false: ${noLogprobs}`),
  modalities: Rule.noOpOnly(
    (value) => Array.isArray(value) && value.every((modality) => modality === "text"),
    `only ["text"]: ${textOnly}`
  ),
  top_logprobs: Rule.refuse(`is not supported: ${noLogprobs}`),
  logit_bias: Rule.refuse(`is not supported: ${sampling}`),
  seed: Rule.refuse(`is not supported: ${sampling}`),
  stop: Rule.refuse("is not supported: the Codex backend has no stop sequences"),
  audio: Rule.refuse(`is not supported: ${textOnly}`),
  prediction: Rule.refuse("is not supported by the Codex backend"),
  web_search_options: Rule.refuse("is not supported here: use /v1/responses with a web_search tool"),
  functions: Rule.refuse("is the legacy form of tools; send tools"),
  function_call: Rule.refuse("is the legacy form of tool_choice; send tool_choice")
} satisfies Record<string, FieldRule>

const Body = Schema.Struct({
  model: Model,
  messages: Schema.Array(Message).pipe(Schema.minItems(1)),
  tools: optional(Schema.Array(Tool)),
  tool_choice: optional(ToolChoice),
  parallel_tool_calls: optional(Schema.Boolean),
  response_format: optional(ResponseFormat),
  reasoning_effort: optional(Schema.String),
  verbosity: optional(Schema.String),
  prompt_cache_key: optional(Schema.String),
  service_tier: optional(Schema.String),
  stream: optional(Schema.Boolean),
  stream_options: optional(Schema.Struct({ include_usage: optional(Schema.Boolean) }))
})

export interface ChatTranslation extends V1Translation {
  // stream_options.include_usage: a last chunk with usage and no choices
  readonly includeUsage: boolean
}

// Chat clients never see reasoning items (Chat Completions has no place for them), so, as Codex CLI does when it
// sends no reasoning, nothing is included.
export const translateChatRequest = (
  body: unknown,
  options: TranslateOptions = {}
): Either.Either<ChatTranslation, V1BadRequest> =>
  Either.gen(function*() {
    const { dropped, request } = yield* readRequest(
      body,
      chatRules,
      Body,
      (object) => refuseUnsupportedMessages(object["messages"])
    )
    const { items, lifted } = yield* translateMessages(request.messages)
    const promptCacheKey = request.prompt_cache_key ?? options.promptCacheKey
    const format = request.response_format ? textFormat(request.response_format) : undefined
    const stream = request.stream ?? false
    return {
      body: codexBody({
        model: request.model,
        instructions: lifted,
        input: items,
        tools: request.tools?.map(responsesTool),
        toolChoice: request.tool_choice ? responsesToolChoice(request.tool_choice) : undefined,
        parallelToolCalls: request.parallel_tool_calls ?? undefined,
        reasoning: request.reasoning_effort ? { effort: request.reasoning_effort } : undefined,
        include: [],
        promptCacheKey,
        text: format || request.verbosity ? defined({ format, verbosity: request.verbosity }) : undefined,
        serviceTier: yield* serviceTierOf(request.service_tier)
      }),
      model: request.model,
      stream,
      promptCacheKey,
      dropped,
      includeUsage: stream && request.stream_options?.include_usage === true
    }
  })
