import { chooseGenerator, compactionEvents, functionCallEvents, messageItemEvents } from "./Items.ts"
import type { JsonObject } from "./Json.ts"
import type { StreamFault, Usage } from "./Types.ts"

export const defaultUsage: Usage = { inputTokens: 1234, cachedTokens: 1000, outputTokens: 5, reasoningTokens: 0 }

export interface PlanRequest {
  readonly n: number
  readonly model: string
  readonly input: ReadonlyArray<unknown>
  readonly generate: boolean
  readonly answer: string
  readonly usage: Usage
  readonly accountId: string
  readonly fault?: StreamFault | undefined
}

export interface Plan {
  readonly responseId: string
  readonly events: ReadonlyArray<JsonObject>
  readonly output: ReadonlyArray<JsonObject>
}

export const usageJson = (usage: Usage) => ({
  input_tokens: usage.inputTokens,
  input_tokens_details: { cached_tokens: usage.cachedTokens },
  output_tokens: usage.outputTokens,
  output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  total_tokens: usage.inputTokens + usage.outputTokens
})

const numbered = (events: ReadonlyArray<JsonObject>): ReadonlyArray<JsonObject> =>
  events.map((event, index) => ({ type: event["type"], sequence_number: index, ...event }))

export const planResponse = (request: PlanRequest): Plan => {
  const responseId = `resp_fake_${request.n}`
  const base = {
    id: responseId,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    model: request.model
  }
  const created = { type: "response.created", response: { ...base, status: "in_progress", output: [] } }
  const fault = request.fault
  if (fault?.kind === "failed_event") {
    const error = {
      code: fault.code ?? "rate_limit_exceeded",
      message: fault.message ?? "Rate limit reached. Please try again in 1.5s."
    }
    const failed = { type: "response.failed", response: { ...base, status: "failed", output: [], error } }
    return { responseId, events: numbered([created, failed]), output: [] }
  }
  if (fault?.kind === "incomplete") {
    const details = { reason: fault.reason ?? "max_output_tokens" }
    const incomplete = {
      type: "response.incomplete",
      response: { ...base, status: "incomplete", output: [], incomplete_details: details }
    }
    return { responseId, events: numbered([created, incomplete]), output: [] }
  }
  const completed = (output: ReadonlyArray<JsonObject>, usage: Usage) => ({
    type: "response.completed",
    response: { ...base, status: "completed", output, usage: usageJson(usage) }
  })
  if (!request.generate) {
    return { responseId, events: numbered([created, completed([], { ...request.usage, outputTokens: 0 })]), output: [] }
  }
  const generator = chooseGenerator(request.input)
  if (typeof generator === "object") {
    const { events, item } = functionCallEvents(request.n, generator.call)
    return { responseId, events: numbered([created, ...events, completed([item], request.usage)]), output: [item] }
  }
  switch (generator) {
    case "compaction": {
      const { events, item } = compactionEvents(request.n, request.accountId)
      const usage = { inputTokens: 100, cachedTokens: 0, outputTokens: 5, reasoningTokens: 0 }
      return { responseId, events: numbered([created, ...events, completed([item], usage)]), output: [item] }
    }
    case "message": {
      const { events, item } = messageItemEvents(`msg_fake_${request.n}`, request.answer)
      const inProgress = { type: "response.in_progress", response: { ...base, status: "in_progress", output: [] } }
      return {
        responseId,
        events: numbered([created, inProgress, ...events, completed([item], request.usage)]),
        output: [item]
      }
    }
  }
}
