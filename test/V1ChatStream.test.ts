import { describe, expect, it } from "@effect/vitest"
import { makeChatCollector } from "../src/V1/ChatCompletion.ts"
import { makeChatStream } from "../src/V1/ChatStream.ts"
import type { UpstreamEvent } from "../src/V1/UpstreamEvent.ts"

// Upstream turns built with the Codex backend's event names and shapes (codex-protocol.md §4, the captures'
// ws-tool-roundtrip): a message streamed in text deltas, function calls sent whole (as the captured backend does) or
// in argument deltas (as the public API does), and the terminal events.
const usage = {
  input_tokens: 900,
  input_tokens_details: { cached_tokens: 512 },
  output_tokens: 40,
  output_tokens_details: { reasoning_tokens: 16 },
  total_tokens: 940
}
const created: UpstreamEvent = {
  type: "response.created",
  response: { id: "resp_7", object: "response", status: "in_progress", model: "gpt-5.5", output: [] }
}
const rateLimits: UpstreamEvent = { type: "codex.rate_limits", plan_type: "plus", rate_limits: { allowed: true } }
const reasoning: UpstreamEvent = {
  type: "response.reasoning_summary_text.delta",
  item_id: "rs_7",
  output_index: 0,
  summary_index: 0,
  delta: "Thinking"
}

const text = (output_index: number, deltas: Array<string>): Array<UpstreamEvent> => {
  const item = { id: `msg_${output_index}`, type: "message", role: "assistant" }
  const part = { type: "output_text", text: deltas.join(""), annotations: [] }
  return [
    { type: "response.output_item.added", output_index, item: { ...item, status: "in_progress", content: [] } },
    ...deltas.map((delta) => ({
      type: "response.output_text.delta",
      item_id: item.id,
      output_index,
      content_index: 0,
      delta
    })),
    { type: "response.output_item.done", output_index, item: { ...item, status: "completed", content: [part] } }
  ]
}

const call = (output_index: number, name: string, args: string, deltas?: Array<string>): Array<UpstreamEvent> => {
  const item = { id: `fc_${output_index}`, type: "function_call", name, call_id: `call_${output_index}` }
  const argumentDeltas = (deltas ?? []).map((delta) => ({
    type: "response.function_call_arguments.delta",
    item_id: item.id,
    output_index,
    delta
  }))
  return [
    {
      type: "response.output_item.added",
      output_index,
      item: { ...item, status: "in_progress", arguments: deltas ? "" : args }
    },
    ...argumentDeltas,
    { type: "response.output_item.done", output_index, item: { ...item, status: "completed", arguments: args } }
  ]
}

const refusal: Array<UpstreamEvent> = [
  {
    type: "response.output_item.added",
    output_index: 0,
    item: { id: "msg_r", type: "message", role: "assistant", content: [] }
  },
  { type: "response.refusal.delta", item_id: "msg_r", output_index: 0, content_index: 0, delta: "I can't help." },
  {
    type: "response.output_item.done",
    output_index: 0,
    item: { id: "msg_r", type: "message", role: "assistant", content: [{ type: "refusal", refusal: "I can't help." }] }
  }
]

// With store:false the backend may close with an empty output: the items came as output_item.done events only.
const completed: UpstreamEvent = {
  type: "response.completed",
  response: { id: "resp_7", status: "completed", output: [], usage }
}
const incomplete: UpstreamEvent = {
  type: "response.incomplete",
  response: { id: "resp_7", incomplete_details: { reason: "max_output_tokens" }, output: [], usage }
}
const filtered: UpstreamEvent = {
  type: "response.incomplete",
  response: { id: "resp_7", status: "incomplete", incomplete_details: { reason: "content_filter" }, usage }
}
const failed: UpstreamEvent = {
  type: "response.failed",
  response: { id: "resp_7", status: "failed", error: { code: "server_is_overloaded", message: "Try again later." } }
}

const options = { id: "chatcmpl-req7", model: "gpt-5.5", created: 1795677100 }
const frame = { id: "chatcmpl-req7", object: "chat.completion.chunk", created: 1795677100, model: "gpt-5.5" }
const chunk = (delta: object, finish_reason: string | null = null) => ({
  ...frame,
  choices: [{ index: 0, delta, logprobs: null, finish_reason }]
})
const role = chunk({ role: "assistant", content: "", refusal: null })
const chatUsage = {
  prompt_tokens: 900,
  completion_tokens: 40,
  total_tokens: 940,
  prompt_tokens_details: { cached_tokens: 512 },
  completion_tokens_details: { reasoning_tokens: 16 }
}

const streamed = (events: Array<UpstreamEvent>, includeUsage = false) => {
  const stream = makeChatStream({ ...options, includeUsage })
  return { sent: [...events.flatMap(stream.push), ...stream.end()], status: stream.status() }
}

describe("Chat Completions stream", () => {
  it("text: the role first, each text delta as content, then finish_reason stop; vendor and reasoning events dropped", () => {
    expect(streamed([rateLimits, created, reasoning, ...text(1, ["Hel", "lo"]), completed])).toStrictEqual({
      sent: [role, chunk({ content: "Hel" }), chunk({ content: "lo" }), chunk({}, "stop")],
      status: "completed"
    })
  })

  it("function calls sent whole: one tool_calls entry each, indexed from 0, then finish_reason tool_calls", () => {
    const { sent } = streamed([
      created,
      ...text(0, ["Let me look."]),
      ...call(1, "ls", "{}"),
      ...call(2, "cat", "{\"f\":1}"),
      completed
    ])
    expect(sent).toStrictEqual([
      role,
      chunk({ content: "Let me look." }),
      chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "ls", arguments: "{}" } }] }),
      chunk({
        tool_calls: [{ index: 1, id: "call_2", type: "function", function: { name: "cat", arguments: "{\"f\":1}" } }]
      }),
      chunk({}, "tool_calls")
    ])
  })

  it("a function call in deltas: opened with no arguments, grown by each delta, nothing repeated when done", () => {
    const { sent } = streamed([
      created,
      ...call(0, "exec_command", "{\"cmd\":\"ls\"}", ["{\"cmd\":", "\"ls\"}"]),
      completed
    ])
    expect(sent).toStrictEqual([
      role,
      chunk({
        tool_calls: [{ index: 0, id: "call_0", type: "function", function: { name: "exec_command", arguments: "" } }]
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"cmd\":" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: "\"ls\"}" } }] }),
      chunk({}, "tool_calls")
    ])
  })

  it("arguments the deltas did not carry are sent when the call is done", () => {
    const { sent } = streamed([created, ...call(0, "f", "{\"a\":1}", ["{\"a\""]), completed])
    expect(sent[3]).toStrictEqual(chunk({ tool_calls: [{ index: 0, function: { arguments: ":1}" } }] }))
  })

  it("max_output_tokens is finish_reason length; include_usage marks every chunk and adds the usage chunk last", () => {
    const { sent } = streamed([created, ...text(0, ["Once"]), incomplete], true)
    expect(sent).toStrictEqual([
      { ...role, usage: null },
      { ...chunk({ content: "Once" }), usage: null },
      { ...chunk({}, "length"), usage: null },
      { ...frame, choices: [], usage: chatUsage }
    ])
  })

  it("the first chunk carries the role even when the backend sends no response.created", () => {
    expect(streamed(text(0, ["a"])).sent[0]).toStrictEqual(role)
    expect(streamed(call(0, "f", "{}")).sent[0]).toStrictEqual(role)
    expect(streamed([completed]).sent).toStrictEqual([role, chunk({}, "stop")])
  })

  it("a refusal is a refusal delta", () => {
    expect(streamed([created, ...refusal, completed]).sent)
      .toStrictEqual([role, chunk({ refusal: "I can't help." }), chunk({}, "stop")])
  })

  it("content_filter is finish_reason content_filter", () => {
    expect(streamed([created, filtered]).sent.at(-1)).toStrictEqual(chunk({}, "content_filter"))
  })

  it.each([
    ["a cut stream", [created, ...text(0, ["Par"]).slice(0, 2)], "upstream_stream_interrupted", "server_error"],
    ["response.failed", [created, failed], "server_is_overloaded", "server_error"],
    [
      "an error event",
      [created, { type: "error", code: "rate_limit_exceeded", message: "slow down" }],
      "rate_limit_exceeded",
      "rate_limit_exceeded"
    ]
  ])("%s ends with one error object: no finish, no usage, nothing after", (_, events, code, type) => {
    const stream = makeChatStream({ ...options, includeUsage: true })
    const sent = [...events.flatMap(stream.push), ...stream.end()]
    expect(sent.at(-1)).toStrictEqual({ error: { code, type, param: null, message: expect.any(String) } })
    expect(sent.filter((data) => !("choices" in data) || data.choices.length === 0)).toHaveLength(1)
    expect(stream.status()).toBe("failed")
    expect([...stream.push(completed), ...stream.end()]).toStrictEqual([])
  })
})

describe("Chat Completions collector", () => {
  const collect = (events: Array<UpstreamEvent>) => {
    const collector = makeChatCollector(options)
    events.forEach(collector.push)
    return collector.end()
  }
  const answered = (message: object, finish_reason: string) => ({
    _tag: "Answered",
    completion: {
      id: "chatcmpl-req7",
      object: "chat.completion",
      created: 1795677100,
      model: "gpt-5.5",
      choices: [{ index: 0, message: { role: "assistant", refusal: null, ...message }, logprobs: null, finish_reason }],
      usage: chatUsage
    }
  })

  it("text is the message content, with finish_reason stop and usage", () => {
    expect(collect([created, ...text(0, ["Hel", "lo"]), completed])).toStrictEqual(
      answered({ content: "Hello" }, "stop")
    )
  })

  it("function calls are tool_calls, with content null when there is no text", () => {
    const toolCalls = [{ id: "call_0", type: "function", function: { name: "ls", arguments: "{\"d\":1}" } }]
    expect(collect([created, ...call(0, "ls", "{\"d\":1}", ["{\"d\"", ":1}"]), completed]))
      .toStrictEqual(answered({ content: null, tool_calls: toolCalls }, "tool_calls"))
  })

  it("a refusal is the message's refusal, with no content", () => {
    expect(collect([created, ...refusal, completed]))
      .toStrictEqual(answered({ content: null, refusal: "I can't help." }, "stop"))
  })

  it("an incomplete answer keeps its text with finish_reason length", () => {
    expect(collect([created, ...text(0, ["Once"]), incomplete])).toStrictEqual(answered({ content: "Once" }, "length"))
  })

  it("a failure or a cut stream is an error answer with the backend's code and status", () => {
    expect(collect([created, failed])).toMatchObject({
      _tag: "Failed",
      answer: { status: 503, body: { error: { code: "server_is_overloaded" } } }
    })
    expect(collect([created, ...text(0, ["x"])])).toMatchObject({ _tag: "Failed", answer: { status: 502 } })
  })
})
