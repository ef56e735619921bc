import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { readFileSync } from "node:fs"
import { chatRules } from "../src/V1/ChatRequest.ts"
import { badRequestAnswer } from "../src/V1/Errors.ts"
import type { FieldRule } from "../src/V1/Fields.ts"
import { responsesRules, translateResponsesRequest } from "../src/V1/ResponsesRequest.ts"

const translated = (body: Record<string, unknown>, promptCacheKey?: string) =>
  Either.getOrThrow(translateResponsesRequest({ model: "gpt-5.5", ...body }, { promptCacheKey }))

// The 400 the route sends for a refused request.
const refused = (result: Either.Either<unknown, Parameters<typeof badRequestAnswer>[0]>) =>
  badRequestAnswer(Either.getOrThrow(Either.flip(result)))

const refusedResponses = (body: unknown) => refused(translateResponsesRequest(body))

describe("/v1/responses request", () => {
  it("a string input becomes one user message in a stateless stream with encrypted reasoning", () => {
    expect(translated({ input: "say hi" })).toStrictEqual({
      body: {
        model: "gpt-5.5",
        input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "say hi" }] }],
        tools: [],
        tool_choice: "auto",
        parallel_tool_calls: true,
        store: false,
        stream: true,
        include: ["reasoning.encrypted_content"]
      },
      model: "gpt-5.5",
      stream: false,
      promptCacheKey: undefined,
      dropped: []
    })
  })

  it("system and developer messages are lifted into instructions, after the given ones and in order", () => {
    const { body } = translated({
      instructions: "Answer in French.",
      input: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Bonjour" },
        {
          type: "message",
          role: "developer",
          content: [{ type: "input_text", text: "No" }, { type: "input_text", text: "lists." }]
        },
        { role: "assistant", content: "Salut" }
      ]
    })
    expect(body.instructions).toBe("Answer in French.\n\nBe brief.\n\nNo\nlists.")
    expect(body.input).toStrictEqual([
      { type: "message", role: "user", content: [{ type: "input_text", text: "Bonjour" }] },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Salut" }] }
    ])
  })

  it("lifted messages alone are the instructions; with none there are no instructions", () => {
    expect(translated({ input: [{ role: "developer", content: "Be brief." }] }).body.instructions).toBe("Be brief.")
    expect(translated({ input: [{ role: "user", content: "q" }] }).body).not.toHaveProperty("instructions")
  })

  it("function calls, their outputs and reasoning items pass as Codex CLI sends them", () => {
    const items = [
      {
        type: "function_call",
        id: "fc_fake_1",
        name: "exec_command",
        arguments: "{\"cmd\":\"echo hi\"}",
        call_id: "call_fake_1"
      },
      { type: "function_call_output", call_id: "call_fake_1", output: "hi" },
      { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gAAA" }
    ]
    expect(translated({ input: items }).body.input).toStrictEqual(items)
  })

  it("every translated field reaches the body", () => {
    const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] }
    const tool = { type: "function", name: "lookup", description: "Look up", parameters: schema, strict: true }
    const result = translated({
      input: "q",
      tools: [tool, { type: "web_search" }],
      tool_choice: { type: "function", name: "lookup" },
      parallel_tool_calls: false,
      reasoning: { effort: "high", summary: "auto" },
      text: { format: { type: "json_schema", name: "answer", schema, strict: true }, verbosity: "low" },
      include: ["web_search_call.action.sources"],
      prompt_cache_key: "thread-1",
      service_tier: "priority",
      stream: true
    })
    expect(result.stream).toBe(true)
    expect(result.promptCacheKey).toBe("thread-1")
    expect(result.body).toMatchObject({
      tools: [tool, { type: "web_search" }],
      tool_choice: { type: "function", name: "lookup" },
      parallel_tool_calls: false,
      reasoning: { effort: "high", summary: "auto" },
      include: ["web_search_call.action.sources", "reasoning.encrypted_content"],
      prompt_cache_key: "thread-1",
      text: { format: { type: "json_schema", name: "answer", schema, strict: true }, verbosity: "low" },
      service_tier: "priority",
      stream: true,
      store: false
    })
  })

  it("the route's prompt_cache_key stands in for a missing one, never over the client's", () => {
    expect(translated({ input: "q" }, "derived").body.prompt_cache_key).toBe("derived")
    expect(translated({ input: "q", prompt_cache_key: "own" }, "derived").promptCacheKey).toBe("own")
  })

  it("dropped fields are accepted, not sent, and named; their no-op values are not named", () => {
    const result = translated({
      input: "q",
      max_output_tokens: 100,
      metadata: { a: "b" },
      user: "u1",
      safety_identifier: "s",
      prompt_cache_retention: "24h",
      stream_options: { include_obfuscation: false },
      store: true,
      service_tier: "auto",
      temperature: 1,
      top_p: 1,
      truncation: "disabled",
      background: false,
      previous_response_id: null
    })
    expect(result.dropped).toStrictEqual([
      "max_output_tokens",
      "metadata",
      "user",
      "safety_identifier",
      "prompt_cache_retention",
      "stream_options",
      "store"
    ])
    expect(Object.keys(result.body)).toStrictEqual([
      "model",
      "input",
      "tools",
      "tool_choice",
      "parallel_tool_calls",
      "store",
      "stream",
      "include"
    ])
    expect(translated({ input: "q", store: false }).dropped).toStrictEqual([])
  })

  it.each([
    ["temperature", 0.2, "unsupported_value"],
    ["top_p", 0.9, "unsupported_value"],
    ["truncation", "auto", "unsupported_value"],
    ["background", true, "unsupported_value"],
    ["service_tier", "flex", "unsupported_value"],
    ["previous_response_id", "resp_1", "unsupported_parameter"],
    ["conversation", "conv_1", "unsupported_parameter"],
    ["prompt", { id: "pmpt_1" }, "unsupported_parameter"],
    ["max_tool_calls", 3, "unsupported_parameter"],
    ["top_logprobs", 2, "unsupported_parameter"],
    ["seed", 1, "unknown_parameter"],
    ["constructor", 1, "unknown_parameter"]
  ])("%s: %j is a 400 naming it (%s)", (field, value, code) => {
    const answer = refusedResponses({ model: "gpt-5.5", input: "q", [field]: value })
    expect(answer.status).toBe(400)
    expect(answer.body.error).toMatchObject({ type: "invalid_request_error", param: field, code })
    expect(answer.body.error.message).toContain(field)
  })

  it.each([
    [{ input: "q" }, "model", "missing_required_parameter"],
    [{ model: 5, input: "q" }, "model", "invalid_value"],
    [{ model: "m", input: ["q"] }, "input[0]", "invalid_value"],
    [{ model: "m", input: [{ role: "tool", content: "x" }] }, "input[0].role", "invalid_value"],
    [{ model: "m", input: [{ content: "x" }] }, "input[0].role", "invalid_value"],
    [
      { model: "m", input: [{ role: "system", content: [{ type: "input_image" }] }] },
      "input[0].content[0]",
      "unsupported_value"
    ],
    [{ model: "m", input: [{ type: "item_reference", id: "msg_1" }] }, "input[0].type", "unsupported_value"],
    [{ model: "m", tools: [{ type: "file_search" }] }, "tools[0].type", "unsupported_value"],
    [
      { model: "m", text: { format: { type: "json_schema", name: "x" } } },
      "text.format.schema",
      "missing_required_parameter"
    ]
  ])("%j is a 400 on %s", (body, param, code) => {
    expect(refusedResponses(body).body.error).toMatchObject({ param, code })
  })

  it("a value of the wrong type is named, not echoed back", () => {
    const error = refusedResponses({ model: "m", instructions: ["secret ".repeat(1000)] }).body.error
    expect(error).toMatchObject({ param: "instructions", code: "invalid_value" })
    expect(error.message).not.toContain("secret")
  })

  it("a body that is no JSON object is a 400 naming no field", () => {
    expect(refusedResponses([{ model: "m" }]).body.error).toMatchObject({ param: null, type: "invalid_request_error" })
  })
})

const disposition: Record<FieldRule["_tag"], string> = {
  Take: "translated",
  Drop: "dropped",
  NoOpOnly: "default only",
  Refuse: "refused"
}

// The README's rows for one surface: field → what it says /v1 does.
const tableRows = (heading: string) => {
  const table = readFileSync(new URL("../README.md", import.meta.url), "utf8")
  const section = table.split("\n#### ").find((part) => part.startsWith(heading)) ?? ""
  return Object.fromEntries(
    [...section.matchAll(/^\| `([a-z_]+)` \| ([a-z ]+) \|/gm)].map(([, field, what]) => [field, what])
  )
}

describe("the translation table", () => {
  it.each([
    ["`POST /v1/responses`", responsesRules],
    ["`POST /v1/chat/completions`", chatRules]
  ])("%s lists every field the code knows, with what the code does with it", (heading, rules) => {
    const rows = tableRows(heading)
    expect(rows).toStrictEqual(
      Object.fromEntries(Object.entries(rules).map(([field, rule]) => [field, disposition[rule._tag]]))
    )
  })
})
