import { Either, Schema } from "effect"
import {
  codexBody,
  defined,
  instructionText,
  serviceTierOf,
  type TranslateOptions,
  type V1Translation
} from "./CodexBody.ts"
import { invalidValue, unsupportedValue, type V1BadRequest } from "./Errors.ts"
import { commonRules, type FieldRule, Model, optional, readRequest, Rule } from "./Fields.ts"

const stateless =
  "with store:false the Codex backend keeps nothing between requests; send the whole conversation in input"

export const responsesRules = {
  ...commonRules,
  input: Rule.take,
  instructions: Rule.take,
  reasoning: Rule.take,
  text: Rule.take,
  include: Rule.take,
  stream_options: Rule.drop(),
  // the backend refuses any output cap; the model's own limit applies (a response.incomplete still says so)
  max_output_tokens: Rule.drop(),
  truncation: Rule.noOpOnly(
    Rule.is("disabled"),
    "only \"disabled\": the Codex backend does not drop input to fit its context"
  ),
  background: Rule.noOpOnly(Rule.is(false), `background responses need stored state; ${stateless}`),
  previous_response_id: Rule.refuse(`is not supported: ${stateless}`),
  conversation: Rule.refuse(`is not supported: ${stateless}`),
  prompt: Rule.refuse("is not supported: stored prompt templates belong to an API project, not a ChatGPT account"),
  max_tool_calls: Rule.refuse("is not supported by the Codex backend"),
  top_logprobs: Rule.refuse("is not supported: the Codex backend returns no log probabilities")
} satisfies Record<string, FieldRule>

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const Format = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text", "json_object") }),
  Schema.Struct({
    type: Schema.Literal("json_schema"),
    name: Schema.String,
    schema: Json,
    strict: optional(Schema.Boolean),
    description: optional(Schema.String)
  })
)

const Body = Schema.Struct({
  model: Model,
  input: optional(Schema.Union(Schema.String, Schema.Array(Json))),
  instructions: optional(Schema.String),
  tools: optional(Schema.Array(Schema.Struct({ type: Schema.String }))),
  tool_choice: optional(
    Schema.Union(Schema.Literal("none", "auto", "required"), Schema.Struct({ type: Schema.String }))
  ),
  parallel_tool_calls: optional(Schema.Boolean),
  reasoning: optional(Schema.Struct({ effort: optional(Schema.String), summary: optional(Schema.String) })),
  text: optional(Schema.Struct({ format: optional(Format), verbosity: optional(Schema.String) })),
  include: optional(Schema.Array(Schema.String)),
  prompt_cache_key: optional(Schema.String),
  service_tier: optional(Schema.String),
  stream: optional(Schema.Boolean)
})

// Hosted tools run on OpenAI's platform; of them the Codex backend serves web search (Codex CLI sends it).
const toolTypes = new Set(["function", "custom", "web_search"])

type Item = Readonly<Record<string, unknown>>

// The Codex backend answers "System messages are not allowed": system and developer messages become instructions.
// Easy messages (`{role, content: "…"}`) take the full item shape Codex CLI itself sends.
const translateInput = (input: string | ReadonlyArray<Item>) =>
  Either.gen(function*() {
    if (typeof input === "string") {
      return { items: [{ type: "message", role: "user", content: [{ type: "input_text", text: input }] }], lifted: [] }
    }
    const items: Array<Item> = []
    const lifted: Array<string> = []
    for (const [index, item] of input.entries()) {
      const at = `input[${index}]`
      if (item["type"] === "item_reference") {
        return yield* Either.left(unsupportedValue(`${at}.type`, `items are not stored; ${stateless}`))
      }
      if (item["type"] !== undefined && item["type"] !== "message") {
        items.push(item)
        continue
      }
      const role = item["role"]
      const content = item["content"]
      if (role === "system" || role === "developer") {
        lifted.push(yield* instructionText(content, `${at}.content`))
      } else if (role === "user" || role === "assistant") {
        const text = role === "user" ? "input_text" : "output_text"
        items.push({
          ...item,
          type: "message",
          content: typeof content === "string" ? [{ type: text, text: content }] : content
        })
      } else {
        return yield* Either.left(invalidValue(`${at}.role`, "expected user, assistant, system or developer"))
      }
    }
    return { items, lifted }
  })

// reasoning.encrypted_content is always asked for: with store:false it is the only way a reasoning item can be sent
// back in a later request's input, and every Codex model reasons whether or not the client set `reasoning`.
const encryptedReasoning = "reasoning.encrypted_content"

export const translateResponsesRequest = (
  body: unknown,
  options: TranslateOptions = {}
): Either.Either<V1Translation, V1BadRequest> =>
  Either.gen(function*() {
    const { dropped, request } = yield* readRequest(body, responsesRules, Body)
    for (const [index, tool] of (request.tools ?? []).entries()) {
      if (!toolTypes.has(tool.type)) {
        return yield* Either.left(
          unsupportedValue(`tools[${index}].type`, "only function, custom and web_search tools work through Codex")
        )
      }
    }
    const { items, lifted } = yield* translateInput(request.input ?? [])
    const promptCacheKey = request.prompt_cache_key ?? options.promptCacheKey
    const include = request.include ?? []
    const { effort, summary } = request.reasoning ?? {}
    const { format, verbosity } = request.text ?? {}
    return {
      body: codexBody({
        model: request.model,
        instructions: [request.instructions ?? "", ...lifted],
        input: items,
        tools: request.tools ?? undefined,
        toolChoice: request.tool_choice,
        parallelToolCalls: request.parallel_tool_calls ?? undefined,
        reasoning: request.reasoning ? defined({ effort, summary }) : undefined,
        include: include.includes(encryptedReasoning) ? include : [...include, encryptedReasoning],
        promptCacheKey,
        text: request.text ? defined({ format, verbosity }) : undefined,
        serviceTier: yield* serviceTierOf(request.service_tier)
      }),
      model: request.model,
      stream: request.stream ?? false,
      promptCacheKey,
      dropped
    }
  })
