import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import OpenAI from "openai"
import { PoolKeys } from "../src/PoolKeys.ts"
import { Pools } from "../src/Pools.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, rewriteRouting, setupPool, type TestPool } from "./support/Gateway.ts"
import { eventually } from "./support/Rows.ts"

// The official openai SDK, as a team's other tools use it, pointed at the gateway's /v1 with a Pool key.
const sdk = (key: string) =>
  Effect.map(gatewayUrl, (origin) => new OpenAI({ apiKey: key, baseURL: `${origin}/v1`, maxRetries: 0 }))

const call = <A>(run: () => Promise<A>) =>
  Effect.promise(() => run().then((value) => ({ value, error: null }), (error: unknown) => ({ value: null, error })))

const upstreamBodies = (requests: ReadonlyArray<{ readonly path: string; readonly body?: unknown }>) =>
  requests.filter((request) => request.path === "/backend-api/codex/responses").map((request) =>
    request.body as Record<string, unknown>
  )

const weather = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "the weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
  }
}

describe.each(backends)("the openai SDK on /v1 on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("responses.create, whole and streamed: translated to the Codex backend's stateless stream, answered in OpenAI's shape", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const client = yield* sdk(pool.key)
        fake.reset()
        fake.setAnswer("hello from the pool")
        const whole = yield* Effect.promise(() =>
          client.responses.create({
            model: "gpt-5.5",
            input: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }],
            prompt_cache_key: "conversation-1"
          })
        )
        expect(whole.output_text).toBe("hello from the pool")
        expect(whole.usage?.total_tokens).toBeGreaterThan(0)
        const [sent] = upstreamBodies(fake.requests)
        expect(sent).toMatchObject({
          model: "gpt-5.5",
          instructions: "be brief",
          store: false,
          stream: true,
          prompt_cache_key: "conversation-1"
        })
        expect(JSON.stringify(sent?.["input"])).not.toContain("be brief")

        const stream = yield* Effect.promise(() =>
          client.responses.create({ model: "gpt-5.5", input: "hi", stream: true })
        )
        const types: Array<string> = []
        let text = ""
        yield* Effect.promise(async () => {
          for await (const event of stream) {
            types.push(event.type)
            if (event.type === "response.output_text.delta") text += event.delta
          }
        })
        expect(text).toBe("hello from the pool")
        expect(types.at(-1)).toBe("response.completed")
        expect(types.some((type) => type.startsWith("codex."))).toBe(false)
        // a tool round trip: the call, then its output sent back with the history (nothing is stored upstream)
        const tools = [{
          type: "function" as const,
          name: weather.function.name,
          parameters: weather.function.parameters,
          strict: false
        }]
        const asked = yield* Effect.promise(() =>
          client.responses.create({ model: "gpt-5.5", input: "run tool for the weather", tools })
        )
        const call = asked.output.find((item) => item.type === "function_call")
        expect(call?.type).toBe("function_call")
        const toolAnswered = yield* Effect.promise(() =>
          client.responses.create({
            model: "gpt-5.5",
            tools,
            input: [
              { role: "user", content: "run tool for the weather" },
              ...asked.output.filter((item) => item.type === "function_call"),
              {
                type: "function_call_output",
                call_id: call?.type === "function_call" ? call.call_id : "",
                output: "sunny"
              }
            ]
          })
        )
        expect(toolAnswered.output_text).toBe("hello from the pool")
        expect(JSON.stringify(upstreamBodies(fake.requests).at(-1)?.["input"])).toContain("function_call_output")
        const sql = yield* SqlClient.SqlClient
        // a row is closed just after its answer has gone out: read once every one has been
        const rows = yield* eventually(
          sql<{ route: string; transport: string; status: string }>`
            SELECT route, transport, status FROM requests WHERE pool_id = ${pool.poolId} ORDER BY started_at`,
          (found) => found.length === 4 && found.every((row) => row.status !== "in_progress")
        )
        expect(rows).toEqual([
          { route: "v1_responses", transport: "http", status: "succeeded" },
          { route: "v1_responses", transport: "sse", status: "succeeded" },
          { route: "v1_responses", transport: "http", status: "succeeded" },
          { route: "v1_responses", transport: "http", status: "succeeded" }
        ])
      }))

    it.effect("chat.completions.create, whole and streamed, with a tool round trip and usage", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const client = yield* sdk(pool.key)
        fake.reset()
        fake.setAnswer("it is sunny")
        const asked = yield* Effect.promise(() =>
          client.chat.completions.create({
            model: "gpt-5.5",
            messages: [{ role: "user", content: "run tool for the weather" }],
            tools: [weather]
          })
        )
        const choice = asked.choices[0]
        expect(choice?.finish_reason).toBe("tool_calls")
        const toolCall = choice?.message.tool_calls?.[0]
        expect(toolCall?.type).toBe("function")
        const answered = yield* Effect.promise(() =>
          client.chat.completions.create({
            model: "gpt-5.5",
            messages: [
              { role: "user", content: "run tool for the weather" },
              { role: "assistant", content: null, tool_calls: asked.choices[0]?.message.tool_calls ?? [] },
              { role: "tool", tool_call_id: toolCall?.id ?? "", content: "sunny, 24°C" }
            ],
            tools: [weather]
          })
        )
        expect(answered.choices[0]?.message.content).toBe("it is sunny")
        expect(answered.choices[0]?.finish_reason).toBe("stop")
        const second = upstreamBodies(fake.requests)[1]
        expect((second?.["input"] as Array<{ type?: string }>).map((item) => item.type)).toEqual(
          expect.arrayContaining(["function_call", "function_call_output"])
        )

        const stream = yield* Effect.promise(() =>
          client.chat.completions.create({
            model: "gpt-5.5",
            messages: [{ role: "user", content: "hi" }],
            stream: true,
            stream_options: { include_usage: true }
          })
        )
        let text = ""
        let usage: number | undefined
        let finish: string | null | undefined
        yield* Effect.promise(async () => {
          for await (const chunk of stream) {
            text += chunk.choices[0]?.delta.content ?? ""
            finish = chunk.choices[0]?.finish_reason ?? finish
            usage = chunk.usage?.total_tokens ?? usage
          }
        })
        expect(text).toBe("it is sunny")
        expect(finish).toBe("stop")
        expect(usage).toBeGreaterThan(0)

        // upstream cut after the answer began: the stream ends with an error, never with [DONE]
        fake.fault(pool.accounts[0]!.fake.accountId, { kind: "disconnect_mid_stream", afterEvents: 4 })
        const cut = yield* Effect.promise(() =>
          client.chat.completions.create({
            model: "gpt-5.5",
            messages: [{ role: "user", content: "hi" }],
            stream: true
          })
        )
        const broken = yield* call(async () => {
          for await (const chunk of cut) void chunk
        })
        expect(broken.error).toBeInstanceOf(OpenAI.APIError)
        expect(String((broken.error as Error).message)).toContain("lost mid-response")
      }))

    it.effect("structured output: response_format json_schema becomes the backend's text.format, parsed by the SDK", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const client = yield* sdk(pool.key)
        fake.reset()
        fake.setAnswer("{\"city\":\"Paris\"}")
        const schema = {
          type: "object",
          properties: { city: { type: "string" } },
          required: ["city"],
          additionalProperties: false
        }
        const parsed = yield* Effect.promise(() =>
          client.chat.completions.parse({
            model: "gpt-5.5",
            messages: [{ role: "user", content: "where?" }],
            response_format: { type: "json_schema", json_schema: { name: "place", schema, strict: true } }
          })
        )
        expect(parsed.choices[0]?.message.parsed).toEqual({ city: "Paris" })
        expect(upstreamBodies(fake.requests)[0]?.["text"]).toMatchObject({
          format: { type: "json_schema", name: "place", schema }
        })
      }))

    it.effect("errors are the SDK's own: an unknown field, a bad key, the Pool at its limit, and models.list", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool: TestPool = yield* setupPool(1)
        const client = yield* sdk(pool.key)
        fake.reset()
        const invalid = yield* call(() =>
          client.chat.completions.create({
            model: "gpt-5.5",
            messages: [{ role: "user", content: "hi" }],
            logit_bias: { "42": 1 }
          })
        )
        expect(invalid.error).toBeInstanceOf(OpenAI.BadRequestError)
        expect((invalid.error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("logit_bias")
        expect(upstreamBodies(fake.requests)).toEqual([])

        // the key's model list holds on /v1 as on the Codex routes
        const { token } = yield* Effect.flatMap(
          PoolKeys,
          (keys) => keys.create({ poolSlug: pool.slug, limits: { allowedModels: ["gpt-5.5"] } })
        )
        const narrow = yield* sdk(token)
        const outside = yield* call(() => narrow.responses.create({ model: "gpt-6-sol", input: "hi" }))
        expect(outside.error).toBeInstanceOf(OpenAI.PermissionDeniedError)
        expect((outside.error as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe("model_not_allowed")
        expect(upstreamBodies(fake.requests)).toEqual([])

        const stranger = yield* sdk("cpk_0000000000000000_" + "x".repeat(43))
        const refused = yield* call(() => stranger.models.list())
        expect(refused.error).toBeInstanceOf(OpenAI.AuthenticationError)

        const models = yield* Effect.promise(() => client.models.list())
        expect(models.data.map((model) => model.id)).toContain("gpt-5.5")

        const resetsAt = Math.floor(Date.now() / 1000) + 3600
        yield* rewriteRouting(sql`INSERT INTO account_health (account_id, cooldown_until, cooldown_reason)
          VALUES (${pool.accounts[0]!.id}, to_timestamp(${resetsAt}), 'usage_limit')`)
        const limited = yield* call(() => client.responses.create({ model: "gpt-5.5", input: "hi" }))
        expect(limited.error).toBeInstanceOf(OpenAI.RateLimitError)
        const error = limited.error as InstanceType<typeof OpenAI.RateLimitError>
        expect(error.code).toBe("usage_limit_reached")
        expect((error.error as { resets_at?: number }).resets_at).toBe(resetsAt)
        expect(Number(error.headers?.get("retry-after"))).toBeGreaterThan(3000)
      }))

    it.effect("GET /v1/usage is the key's own; another /v1 path is a 404; a Pool with /v1 off refuses its keys", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const client = yield* sdk(pool.key)
        yield* Effect.promise(() =>
          client.chat.completions.create({ model: "gpt-5.5", messages: [{ role: "user", content: "hi" }] })
        )
        // the request's row is closed, with its tokens, just after its answer has gone out
        const usage = yield* eventually(
          Effect.promise(() => client.get<Record<string, unknown>>("/usage")),
          (read) => ((read["today"] as { total_tokens?: number } | undefined)?.total_tokens ?? 0) > 0
        )
        expect(usage).toMatchObject({
          object: "usage",
          pool: pool.slug,
          today: { requests: 1 },
          last_24_hours: { requests: 1 },
          limits: { requests_per_minute: null }
        })
        expect((usage["today"] as { total_tokens: number }).total_tokens).toBeGreaterThan(0)
        const unknown = yield* call(() => client.embeddings.create({ model: "text-embedding-3-small", input: "hi" }))
        expect(unknown.error).toBeInstanceOf(OpenAI.NotFoundError)
        expect((unknown.error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("unsupported_endpoint")

        yield* Effect.flatMap(Pools, (pools) => pools.setFlag(pool.slug, "v1Enabled", false))
        yield* Effect.sleep("2100 millis") // a verified key is remembered for 2 s
        const off = yield* call(() => client.models.list())
        expect(off.error).toBeInstanceOf(OpenAI.PermissionDeniedError)
        expect((off.error as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe("v1_disabled")
      }))
  })
})
