import { Option, Schema } from "effect"

const Count = Schema.optional(Schema.NullOr(Schema.Number))

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

// Token counts as `response.completed` reports them (codex-protocol.md §4).
export const usageOf = (usage: unknown): Usage =>
  Option.match(decodeUsage(usage), {
    onNone: () => noUsage,
    onSome: (counts) => ({
      inputTokens: counts.input_tokens ?? null,
      cachedInputTokens: counts.input_tokens_details?.cached_tokens ?? null,
      outputTokens: counts.output_tokens ?? null,
      reasoningTokens: counts.output_tokens_details?.reasoning_tokens ?? null,
      totalTokens: counts.total_tokens ?? null
    })
  })
