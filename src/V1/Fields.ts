import { Either, ParseResult, Schema } from "effect"
import { isObject, modelLimit } from "../Proxy/JsonObject.ts"
import {
  invalidValue,
  missingParameter,
  unknownParameter,
  unsupportedParameter,
  unsupportedValue,
  type V1BadRequest
} from "./Errors.ts"

// What /v1 does with one top-level field of a public request. Every field a surface knows is listed with its rule:
// a field in no list is refused by name, so a client never believes a setting was honoured when it was not.
export type FieldRule =
  // read by the translator
  | { readonly _tag: "Take" }
  // accepted and not sent: the backend refuses it, and leaving it out changes nothing the client can observe
  // (or only a limit it set for itself, which the table says); named in `dropped` unless it held its no-op value
  | { readonly _tag: "Drop"; readonly isNoOp: (value: unknown) => boolean }
  // accepted only at the value that changes nothing, as OpenAI answers for the same reasoning models
  | { readonly _tag: "NoOpOnly"; readonly isNoOp: (value: unknown) => boolean; readonly why: string }
  // refused whatever its value
  | { readonly _tag: "Refuse"; readonly why: string }

const take: FieldRule = { _tag: "Take" }
const drop = (isNoOp: (value: unknown) => boolean = () => false): FieldRule => ({ _tag: "Drop", isNoOp })
const noOpOnly = (isNoOp: (value: unknown) => boolean, why: string): FieldRule => ({
  _tag: "NoOpOnly",
  isNoOp,
  why
})
const refuse = (why: string): FieldRule => ({ _tag: "Refuse", why })

const is = (expected: unknown) => (value: unknown) => value === expected

// The rules, for the surfaces' tables: `Rule.drop()`, `Rule.noOpOnly(Rule.is(1), why)`.
export const Rule = { take, drop, noOpOnly, refuse, is }

export const sampling = "the Codex backend fixes sampling for its reasoning models"

// Fields both surfaces treat the same way. Drops and refusals follow what chatgpt.com/backend-api/codex answers
// `{"detail":"Unsupported parameter: X"}` to (temperature, top_p, max_output_tokens, metadata, truncation,
// safety_identifier, prompt_cache_retention, store: true).
export const commonRules = {
  model: take,
  stream: take,
  tools: take,
  tool_choice: take,
  parallel_tool_calls: take,
  prompt_cache_key: take,
  service_tier: take,
  temperature: noOpOnly(is(1), `only the default (1) is supported; ${sampling}`),
  top_p: noOpOnly(is(1), `only the default (1) is supported; ${sampling}`),
  metadata: drop(),
  user: drop(),
  safety_identifier: drop(),
  prompt_cache_retention: drop(),
  store: drop(is(false))
} satisfies Record<string, FieldRule>

const asObject = (body: unknown): Either.Either<Readonly<Record<string, unknown>>, V1BadRequest> =>
  isObject(body) ? Either.right(body) : Either.left(invalidValue(null, "The request body must be a JSON object."))

// Checks every top-level field against the surface's rules; gives the fields accepted but not sent upstream.
const checkFields = (
  body: Readonly<Record<string, unknown>>,
  rules: Readonly<Record<string, FieldRule>>
): Either.Either<ReadonlyArray<string>, V1BadRequest> => {
  const dropped: Array<string> = []
  for (const [field, value] of Object.entries(body)) {
    const rule = Object.hasOwn(rules, field) ? rules[field] : undefined
    if (rule === undefined) return Either.left(unknownParameter(field))
    // null is how many clients write "not set"
    if (value === null || value === undefined) continue
    switch (rule._tag) {
      case "Take":
        continue
      case "Drop":
        if (!rule.isNoOp(value)) dropped.push(field)
        continue
      case "NoOpOnly":
        if (!rule.isNoOp(value)) return Either.left(unsupportedValue(field, rule.why))
        continue
      case "Refuse":
        return Either.left(unsupportedParameter(field, rule.why))
    }
  }
  return Either.right(dropped)
}

// A public request read in order: a JSON object, each field allowed by the surface's rules, what `check` refuses
// before decoding (so a refusal reads as one), then decoded; with the fields accepted but not sent.
export const readRequest = <A, I>(
  body: unknown,
  rules: Readonly<Record<string, FieldRule>>,
  schema: Schema.Schema<A, I>,
  check: (object: Readonly<Record<string, unknown>>) => Either.Either<void, V1BadRequest> = () => Either.void
): Either.Either<{ readonly request: A; readonly dropped: ReadonlyArray<string> }, V1BadRequest> =>
  Either.gen(function*() {
    const object = yield* asObject(body)
    const dropped = yield* checkFields(object, rules)
    yield* check(object)
    return { request: yield* decodeFields(schema, object), dropped }
  })

// `["messages", 2, "content"]` → `messages[2].content`, the way OpenAI names a nested field in `param`.
const paramOf = (path: ReadonlyArray<PropertyKey>) =>
  path.map((key, at) => typeof key === "number" ? `[${key}]` : at === 0 ? String(key) : `.${String(key)}`).join("")

// Decodes the fields a translator takes. The deepest problem names its field (a union reports one per member, the
// outer ones say less); its message says what was expected without echoing the value, which may be large.
const decodeFields = <A, I>(schema: Schema.Schema<A, I>, body: unknown): Either.Either<A, V1BadRequest> =>
  Either.mapLeft(Schema.decodeUnknownEither(schema, { onExcessProperty: "preserve" })(body), (error) => {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
    const issue = issues.reduce((deepest, next) => next.path.length > deepest.path.length ? next : deepest)
    const param = issue.path.length === 0 ? null : paramOf(issue.path)
    if (issue._tag === "Missing") return missingParameter(param)
    return invalidValue(param, issue.message.replace(/, actual [\s\S]*$/, "").slice(0, 200))
  })

// Optional members written `null` by clients that spell "unset" that way.
export const optional = <A, I>(schema: Schema.Schema<A, I>) => Schema.optional(Schema.NullOr(schema))

export const Model = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(modelLimit))
