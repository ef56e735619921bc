import { describe, expect, it } from "@effect/vitest"
import { makeResponsesCollector, makeResponsesStream } from "../src/V1/ResponsesStream.ts"
import { parseUpstreamEvent, type UpstreamEvent } from "../src/V1/UpstreamEvent.ts"

// Upstream events as the fake Codex backend sent them to Codex CLI 0.169 (codex-captures/ws-tool-roundtrip.jsonl),
// and the incomplete and failure shapes of codex-protocol.md §4-5.
const details = { input_tokens_details: { cached_tokens: 1000 }, output_tokens_details: { reasoning_tokens: 0 } }
const usage = { input_tokens: 1234, ...details, output_tokens: 5, total_tokens: 1239 }
const rateLimits = {
  type: "codex.rate_limits",
  plan_type: "pro",
  rate_limits: { allowed: true, limit_reached: false, primary: { used_percent: 12.5, window_minutes: 300 } }
}
const response = (id: string, status: string, output: Array<unknown>, extra = {}) => ({
  response: { id, object: "response", created_at: 1795677034, status, model: "gpt-5.5", output, ...extra }
})
const message = {
  id: "msg_fake_3",
  type: "message",
  status: "completed",
  role: "assistant",
  content: [{ type: "output_text", text: "hi", annotations: [] }]
}
const textTurn: Array<UpstreamEvent> = [
  rateLimits,
  { type: "response.created", sequence_number: 0, ...response("resp_fake_3", "in_progress", []) },
  { type: "response.in_progress", sequence_number: 1, ...response("resp_fake_3", "in_progress", []) },
  {
    type: "response.output_item.added",
    sequence_number: 2,
    output_index: 0,
    item: { ...message, status: "in_progress", content: [] }
  },
  {
    type: "response.content_part.added",
    sequence_number: 3,
    item_id: "msg_fake_3",
    output_index: 0,
    content_index: 0,
    part: { type: "output_text", text: "", annotations: [] }
  },
  {
    type: "response.output_text.delta",
    sequence_number: 4,
    item_id: "msg_fake_3",
    output_index: 0,
    content_index: 0,
    delta: "hi"
  },
  {
    type: "response.output_text.done",
    sequence_number: 5,
    item_id: "msg_fake_3",
    output_index: 0,
    content_index: 0,
    text: "hi"
  },
  {
    type: "response.content_part.done",
    sequence_number: 6,
    item_id: "msg_fake_3",
    output_index: 0,
    content_index: 0,
    part: message.content[0]
  },
  { type: "response.output_item.done", sequence_number: 7, output_index: 0, item: message },
  { type: "response.completed", sequence_number: 8, ...response("resp_fake_3", "completed", [message], { usage }) }
]
const call = {
  id: "fc_fake_2",
  type: "function_call",
  status: "completed",
  name: "exec_command",
  arguments: "{\"cmd\":\"echo hi-from-tool\"}",
  call_id: "call_fake_2"
}
const callTurn: Array<UpstreamEvent> = [
  rateLimits,
  { type: "response.created", ...response("resp_fake_2", "in_progress", []) },
  { type: "response.output_item.added", output_index: 0, item: { ...call, status: "in_progress" } },
  { type: "response.output_item.done", output_index: 0, item: call },
  // the backend may close with an empty output under store:false: the items came as output_item.done only
  { type: "response.completed", ...response("resp_fake_2", "completed", [], { usage }) }
]
const incompleteTurn: Array<UpstreamEvent> = [
  ...textTurn.slice(1, 6),
  {
    type: "response.incomplete",
    ...response("resp_fake_3", "incomplete", [], { incomplete_details: { reason: "max_output_tokens" }, usage })
  }
]
const failed = {
  type: "response.failed",
  response: {
    id: "resp_1",
    status: "failed",
    error: { code: "rate_limit_exceeded", message: "Rate limit reached. Please try again in 1.5s." }
  }
}
const usageLimitFrame = {
  type: "error",
  status: 429,
  error: {
    type: "usage_limit_reached",
    message: "The usage limit has been reached",
    plan_type: "pro",
    resets_at: 1795679203
  },
  headers: { "x-codex-primary-used-percent": "100" }
}

const run = <A>(
  stream: { push: (e: UpstreamEvent) => ReadonlyArray<A>; end: () => ReadonlyArray<A> },
  events: Array<UpstreamEvent>
) => [...events.flatMap(stream.push), ...stream.end()]

describe("Responses stream", () => {
  it("passes public events as they are, drops vendor ones, and numbers what it sends from 0", () => {
    const sent = run(makeResponsesStream(), textTurn)
    expect(sent).toStrictEqual(textTurn.slice(1).map((event, sequence_number) => ({ ...event, sequence_number })))
  })

  it("numbers unnumbered events and fills an empty final output with the items the stream carried", () => {
    const sent = run(makeResponsesStream(), callTurn)
    expect(sent.map((event) => [event.type, event.sequence_number])).toStrictEqual([
      ["response.created", 0],
      ["response.output_item.added", 1],
      ["response.output_item.done", 2],
      ["response.completed", 3]
    ])
    expect(sent[3]!["response"]).toMatchObject({ id: "resp_fake_2", status: "completed", output: [call], usage })
  })

  it("the filled output is in output_index order, whatever order the items were done in", () => {
    const second = { ...call, id: "fc_fake_3", call_id: "call_fake_3" }
    const sent = run(makeResponsesStream(), [
      callTurn[1]!,
      { type: "response.output_item.done", output_index: 1, item: second },
      { type: "response.output_item.done", output_index: 0, item: call },
      callTurn[4]!
    ])
    expect(sent.at(-1)!["response"]).toMatchObject({ output: [call, second] })
  })

  it("a cut stream ends with exactly one error event, and nothing follows it", () => {
    const stream = makeResponsesStream()
    const sent = textTurn.slice(0, 6).flatMap(stream.push)
    expect(stream.end()).toStrictEqual([
      {
        type: "error",
        code: "upstream_stream_interrupted",
        message: expect.any(String),
        param: null,
        sequence_number: sent.length
      }
    ])
    expect(stream.end()).toStrictEqual([])
    expect(textTurn.slice(6).flatMap(stream.push)).toStrictEqual([])
  })

  it("nothing follows a terminal event, not even the end of the stream", () => {
    const stream = makeResponsesStream()
    expect(incompleteTurn.flatMap(stream.push).at(-1)).toMatchObject({
      type: "response.incomplete",
      sequence_number: 5
    })
    expect([...stream.push(textTurn[5]!), ...stream.push(usageLimitFrame), ...stream.end()]).toStrictEqual([])
  })

  it("a backend error frame becomes OpenAI's error event, without the backend's headers or plan", () => {
    const sent = run(makeResponsesStream(), [textTurn[1]!, usageLimitFrame])
    expect(sent[1]).toStrictEqual({
      type: "error",
      code: "usage_limit_reached",
      message: "The usage limit has been reached",
      param: null,
      sequence_number: 1
    })
    expect(sent).toHaveLength(2)
  })

  it("an SSE data line is an event only if it is a JSON object with a type", () => {
    expect(parseUpstreamEvent(JSON.stringify(textTurn[5]))).toStrictEqual(textTurn[5])
    expect([parseUpstreamEvent("{\"type\":"), parseUpstreamEvent("[1]"), parseUpstreamEvent("{\"type\":3}")])
      .toStrictEqual([null, null, null])
  })
})

describe("Responses collector", () => {
  const collect = (events: Array<UpstreamEvent>) => {
    const collector = makeResponsesCollector()
    events.forEach(collector.push)
    return collector.end()
  }

  it("answers with the final response, completed or incomplete", () => {
    expect(collect(textTurn)).toStrictEqual({ _tag: "Answered", response: textTurn[9]!["response"] })
    expect(collect(callTurn)).toMatchObject({ _tag: "Answered", response: { output: [call] } })
    expect(collect(incompleteTurn)).toMatchObject({
      _tag: "Answered",
      response: { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } }
    })
  })

  it.each([
    [[textTurn[1]!, failed], 429, "rate_limit_exceeded"],
    [[textTurn[1]!, usageLimitFrame], 429, "usage_limit_reached"],
    [
      [textTurn[1]!, {
        type: "response.failed",
        response: { error: { code: "context_length_exceeded", message: "too long" } }
      }],
      400,
      "context_length_exceeded"
    ],
    [[textTurn[1]!, { type: "response.failed", response: {} }], 500, "server_error"],
    [textTurn.slice(0, 6), 502, "upstream_stream_interrupted"]
  ])("a failure is an error answer with the backend's code (%#)", (events, status, code) => {
    expect(collect(events)).toMatchObject({ _tag: "Failed", answer: { status, body: { error: { code } } } })
  })
})
