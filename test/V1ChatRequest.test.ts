import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { translateChatRequest } from "../src/V1/ChatRequest.ts"
import { badRequestAnswer } from "../src/V1/Errors.ts"

const user = { role: "user", content: "What is the weather in Paris?" }
const translated = (body: Record<string, unknown>) =>
  Either.getOrThrow(translateChatRequest({ model: "gpt-5.5", messages: [user], ...body }))
const refused = (body: Record<string, unknown>) =>
  badRequestAnswer(
    Either.getOrThrow(Either.flip(translateChatRequest({ model: "gpt-5.5", messages: [user], ...body })))
  )

const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
  }
}

describe("/v1/chat/completions request", () => {
  it("a tool round trip becomes instructions, messages, function_call and function_call_output items", () => {
    const { body } = translated({
      messages: [
        { role: "system", content: "You are terse." },
        {
          role: "user",
          content: [
            { type: "text", text: "Weather here?" },
            { type: "image_url", image_url: { url: "https://x/p.png" } },
            { type: "image_url", image_url: { url: "data:image/png;base64,AA", detail: "high" } }
          ]
        },
        {
          role: "assistant",
          content: "Checking.",
          tool_calls: [{
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" }
          }]
        },
        {
          role: "tool",
          tool_call_id: "call_1",
          content: [{ type: "text", text: "18C " }, { type: "text", text: "sunny" }]
        },
        { role: "developer", content: [{ type: "text", text: "Use Celsius." }] },
        {
          role: "assistant",
          content: [{ type: "text", text: "I can't " }, { type: "refusal", refusal: "share that." }],
          refusal: "Not allowed.",
          tool_calls: [{ id: "call_2", type: "function", function: { name: "f", arguments: "{}" } }]
        },
        { role: "tool", tool_call_id: "call_2", content: "done" }
      ]
    })
    expect(body.instructions).toBe("You are terse.\n\nUse Celsius.")
    expect(body.input).toStrictEqual([
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_text", text: "Weather here?" },
          { type: "input_image", image_url: "https://x/p.png", detail: "auto" },
          { type: "input_image", image_url: "data:image/png;base64,AA", detail: "high" }
        ]
      },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking." }] },
      { type: "function_call", call_id: "call_1", name: "get_weather", arguments: "{\"city\":\"Paris\"}" },
      { type: "function_call_output", call_id: "call_1", output: "18C sunny" },
      {
        type: "message",
        role: "assistant",
        content: [
          { type: "output_text", text: "I can't " },
          { type: "refusal", refusal: "share that." },
          { type: "refusal", refusal: "Not allowed." }
        ]
      },
      { type: "function_call", call_id: "call_2", name: "f", arguments: "{}" },
      { type: "function_call_output", call_id: "call_2", output: "done" }
    ])
  })

  it("tools, tool_choice, response_format json_schema, reasoning_effort and verbosity reach the body", () => {
    const schema = { type: "object", properties: { c: { type: "number" } } }
    const result = translated({
      tools: [
        weather,
        { type: "function", function: { name: "now", strict: true } },
        { type: "custom", custom: { name: "apply_patch", format: { type: "text" } } }
      ],
      tool_choice: { type: "custom", custom: { name: "apply_patch" } },
      parallel_tool_calls: false,
      response_format: { type: "json_schema", json_schema: { name: "temp", schema, strict: true } },
      reasoning_effort: "low",
      verbosity: "high",
      prompt_cache_key: "conv-7"
    })
    expect(result.body).toStrictEqual({
      model: "gpt-5.5",
      input: [{ type: "message", role: "user", content: [{ type: "input_text", text: user.content }] }],
      tools: [
        { type: "function", ...weather.function, strict: false },
        { type: "function", name: "now", parameters: { type: "object", properties: {} }, strict: true },
        { type: "custom", name: "apply_patch", format: { type: "text" } }
      ],
      tool_choice: { type: "custom", name: "apply_patch" },
      parallel_tool_calls: false,
      reasoning: { effort: "low" },
      store: false,
      stream: true,
      include: [],
      prompt_cache_key: "conv-7",
      text: { format: { type: "json_schema", name: "temp", schema, strict: true }, verbosity: "high" }
    })
    expect(result.promptCacheKey).toBe("conv-7")
  })

  it("a function tool_choice names the function", () => {
    const choice = { type: "function", function: { name: "get_weather" } }
    expect(translated({ tools: [weather], tool_choice: choice }).body.tool_choice).toStrictEqual({
      type: "function",
      name: "get_weather"
    })
  })

  it.each(["json_object", "text"])("response_format %s becomes text.format", (type) => {
    expect(translated({ response_format: { type } }).body.text).toStrictEqual({ format: { type } })
  })

  it("stream and include_usage are the client's; caps and no-op values are accepted without being sent", () => {
    const result = translated({
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 50,
      max_completion_tokens: 50,
      user: "u",
      metadata: { k: "v" },
      store: true,
      n: 1,
      temperature: 1,
      top_p: 1,
      presence_penalty: 0,
      frequency_penalty: 0,
      logprobs: false,
      modalities: ["text"],
      stop: null
    })
    expect(result).toMatchObject({ stream: true, includeUsage: true, model: "gpt-5.5" })
    expect(result.dropped).toStrictEqual(["max_tokens", "max_completion_tokens", "user", "metadata", "store"])
    expect(Object.keys(result.body)).not.toContain("max_output_tokens")
    expect(translated({ stream_options: { include_usage: true } }).includeUsage).toBe(false)
  })

  it.each([
    ["n", 2, "unsupported_value"],
    ["temperature", 0.7, "unsupported_value"],
    ["top_p", 0.5, "unsupported_value"],
    ["presence_penalty", 0.5, "unsupported_value"],
    ["frequency_penalty", 1, "unsupported_value"],
    ["logprobs", true, "unsupported_value"],
    ["modalities", ["text", "audio"], "unsupported_value"],
    ["top_logprobs", 2, "unsupported_parameter"],
    ["logit_bias", { "50256": -100 }, "unsupported_parameter"],
    ["seed", 42, "unsupported_parameter"],
    ["stop", ["\n"], "unsupported_parameter"],
    ["audio", { voice: "alloy", format: "wav" }, "unsupported_parameter"],
    ["prediction", { type: "content", content: "x" }, "unsupported_parameter"],
    ["web_search_options", {}, "unsupported_parameter"],
    ["functions", [weather.function], "unsupported_parameter"],
    ["function_call", "auto", "unsupported_parameter"],
    ["input", "q", "unknown_parameter"]
  ])("%s: %j is a 400 naming it (%s)", (field, value, code) => {
    const answer = refused({ [field]: value })
    expect(answer.status).toBe(400)
    expect(answer.body.error).toMatchObject({ type: "invalid_request_error", param: field, code })
  })

  it.each([
    [
      { role: "user", content: [{ type: "input_audio", input_audio: { data: "", format: "wav" } }] },
      "messages[0].content[0].type"
    ],
    [{ role: "user", content: [{ type: "file", file: { file_id: "file_1" } }] }, "messages[0].content[0].type"],
    [{ role: "function", name: "f", content: "x" }, "messages[0].role"],
    [{ role: "assistant", content: null, audio: { id: "audio_1" } }, "messages[0].audio"],
    [{ role: "assistant", content: null, function_call: { name: "f", arguments: "{}" } }, "messages[0].function_call"]
  ])("the message %j is refused on %s", (message, param) => {
    expect(refused({ messages: [message] }).body.error.param).toBe(param)
  })

  it.each([
    [[], "messages", "invalid_value"],
    ["Hello", "messages", "invalid_value"],
    [[{ role: "tool", content: "x" }], "messages[0].tool_call_id", "missing_required_parameter"],
    [[{ role: "user" }], "messages[0].content", "missing_required_parameter"],
    [
      [{ role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "f" } }] }],
      "messages[0].tool_calls[0].function.arguments",
      "missing_required_parameter"
    ]
  ])("messages %j are a 400 on %s", (messages, param, code) => {
    expect(refused({ messages }).body.error).toMatchObject({ param, code })
  })
})
