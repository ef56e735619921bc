import { Option, Schema } from "effect"

const Count = Schema.optional(Schema.Unknown)

const ResponseUsage = Schema.Struct({
  input_tokens: Count,
  input_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ cached_tokens: Count }))),
  output_tokens: Count,
  output_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ reasoning_tokens: Count }))),
  total_tokens: Count
})

export interface Usage {
  readonly inputTokens: number | null
  readonly cachedInputTokens: number | null
  readonly outputTokens: number | null
  readonly reasoningTokens: number | null
  readonly totalTokens: number | null
}

export const noUsage: Usage = {
  inputTokens: null,
  cachedInputTokens: null,
  outputTokens: null,
  reasoningTokens: null,
  totalTokens: null
}

const decodeUsage = Schema.decodeUnknownOption(ResponseUsage)

// A count is a whole number of tokens the `bigint` columns hold; anything else upstream sends (negative, fractional,
// huge, not a number) is no count rather than a failed write or a budget that goes down.
const count = (value: unknown): number | null =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : null

// Token counts as `response.completed` reports them (codex-protocol.md §4).
export const usageOf = (usage: unknown): Usage =>
  Option.match(decodeUsage(usage), {
    onNone: () => noUsage,
    onSome: (counts) => ({
      inputTokens: count(counts.input_tokens),
      cachedInputTokens: count(counts.input_tokens_details?.cached_tokens),
      outputTokens: count(counts.output_tokens),
      reasoningTokens: count(counts.output_tokens_details?.reasoning_tokens),
      totalTokens: count(counts.total_tokens)
    })
  })
