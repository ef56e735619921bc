import { Either } from "effect"
import { isObject } from "../Proxy/JsonObject.ts"
import { invalidValue, unsupportedValue, type V1BadRequest } from "./Errors.ts"

type Json = Readonly<Record<string, unknown>>

// The body POST {codex base}/responses receives, keys in the order Codex CLI sends them (codex-protocol.md §3.1).
export interface CodexBody {
  readonly model: string
  readonly instructions?: string
  readonly input: ReadonlyArray<Json>
  readonly tools: ReadonlyArray<Json>
  readonly tool_choice: unknown
  readonly parallel_tool_calls: boolean
  readonly reasoning?: Json
  readonly store: false
  readonly stream: true
  readonly include: ReadonlyArray<string>
  readonly prompt_cache_key?: string
  readonly text?: Json
  readonly service_tier?: string
}

export interface CodexParts {
  readonly model: string
  // the request's own instructions first, then the system/developer messages lifted out of its input, in order
  readonly instructions: ReadonlyArray<string>
  readonly input: ReadonlyArray<Json>
  readonly tools: ReadonlyArray<Json> | undefined
  readonly toolChoice: unknown
  readonly parallelToolCalls: boolean | undefined
  readonly reasoning: Json | undefined
  readonly include: ReadonlyArray<string>
  readonly promptCacheKey: string | undefined
  readonly text: Json | undefined
  readonly serviceTier: string | undefined
}

const present = <K extends string, V>(key: K, value: V | undefined) =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

// The members that hold a value, for optional fields of the JSON sent upstream.
export const defined = (fields: Json): Json =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined && value !== null))

// Upstream is always a stateless stream: with store:false the backend keeps nothing (every request carries its whole
// history), and it only answers in SSE; a non-streaming client is answered by the collector.
export const codexBody = (parts: CodexParts): CodexBody => {
  const instructions = parts.instructions.filter((text) => text !== "").join("\n\n")
  return {
    model: parts.model,
    ...present("instructions", instructions === "" ? undefined : instructions),
    input: parts.input,
    tools: parts.tools ?? [],
    tool_choice: parts.toolChoice ?? "auto",
    parallel_tool_calls: parts.parallelToolCalls ?? true,
    ...present("reasoning", parts.reasoning),
    store: false,
    stream: true,
    include: parts.include,
    ...present("prompt_cache_key", parts.promptCacheKey),
    ...present("text", parts.text),
    ...present("service_tier", parts.serviceTier)
  }
}

// Codex CLI asks for "priority" (its fast tier); "auto" and "default" are what the backend does without a tier; flex
// and scale are API-platform tiers a ChatGPT account does not have.
export const serviceTierOf = (tier: string | null | undefined): Either.Either<string | undefined, V1BadRequest> => {
  if (tier === null || tier === undefined || tier === "auto" || tier === "default") return Either.right(undefined)
  if (tier === "priority") return Either.right(tier)
  return Either.left(unsupportedValue("service_tier", "only auto, default and priority are available through Codex"))
}

// The text of a system/developer message, which becomes instructions: a string, or text parts (`input_text` in
// Responses, `text` in Chat Completions). Anything else (an image) has no place in instructions.
export const instructionText = (content: unknown, param: string): Either.Either<string, V1BadRequest> => {
  if (typeof content === "string") return Either.right(content)
  if (!Array.isArray(content)) return Either.left(invalidValue(param, "expected a string or an array of text parts"))
  const texts: Array<string> = []
  for (const [index, part] of content.entries()) {
    const text = isObject(part) && (part["type"] === "input_text" || part["type"] === "text") ? part["text"] : undefined
    if (typeof text !== "string") {
      return Either.left(unsupportedValue(`${param}[${index}]`, "system and developer messages may hold text only"))
    }
    texts.push(text)
  }
  return Either.right(texts.join("\n"))
}

// What a route needs besides the body: the model it gates and accounts, whether the client wants a stream, the
// continuity key, and the fields it accepted but did not send (to log, or to tell the client in a header).
export interface V1Translation {
  readonly body: CodexBody
  readonly model: string
  readonly stream: boolean
  readonly promptCacheKey: string | undefined
  readonly dropped: ReadonlyArray<string>
}

export interface TranslateOptions {
  // used when the request names no prompt_cache_key, so the backend's prompt cache and the gateway's soft
  // stickiness still see one conversation (e.g. a key the route derives from the Pool key and a session header)
  readonly promptCacheKey?: string | undefined
}
