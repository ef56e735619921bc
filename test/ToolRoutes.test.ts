import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { PoolKeys } from "../src/PoolKeys.ts"
import { backends } from "./support/Databases.ts"
import {
  Fake,
  firstInLine,
  gatewayLayer,
  gatewayUrl,
  postResponses,
  setupPool,
  type TestPool
} from "./support/Gateway.ts"
import { codexHeaders, send } from "./support/Requests.ts"
import { attemptRows, settledRow } from "./support/Rows.ts"

// Codex 0.169's tool calls on the provider base (README, "Codex's other calls"): the image tool and standalone web
// search. They carry no session header, only x-codex-turn-metadata naming the thread.
const toolHeaders = (key: string, thread: string) => ({
  authorization: `Bearer ${key}`,
  "content-type": "application/json",
  accept: "*/*",
  originator: "codex_exec",
  "user-agent": "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)",
  "x-codex-image-turn-id": "turn-1",
  "x-codex-turn-metadata": JSON.stringify({
    session_id: thread,
    thread_id: thread,
    turn_id: "turn-1",
    model: "gpt-5.5"
  })
})

const onePixel =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

const tools = {
  "/images/generations": {
    route: "image_generation",
    body: { prompt: "a red fox", background: "opaque", model: "gpt-image-2", quality: "auto", size: "auto" }
  },
  "/images/edits": {
    route: "image_edit",
    body: {
      images: [{ image_url: onePixel }],
      prompt: "add a hat",
      background: "opaque",
      model: "gpt-image-2",
      quality: "auto",
      size: "auto"
    }
  },
  "/alpha/search": {
    route: "web_search",
    body: {
      id: "thread-search",
      model: "gpt-5.5",
      input: [],
      commands: { search_query: [{ q: "codex cli" }] },
      settings: { allowed_callers: ["direct"], external_web_access: true },
      max_output_tokens: 10000
    }
  }
} as const

type ToolPath = keyof typeof tools

const callTool = (key: string, path: ToolPath, thread = "thread-tools", body: unknown = tools[path].body) =>
  Effect.flatMap(gatewayUrl, (url) =>
    send(`${url}/backend-api/codex${path}`, {
      method: "POST",
      headers: toolHeaders(key, thread),
      body: JSON.stringify(body)
    }))

const requestIdOf = (answer: { readonly headers: Headers }) => answer.headers.get("x-codex-pooler-request-id") ?? ""

// The Pool's second account first in line, the first one last.
const secondInLine = (pool: TestPool) => firstInLine({ ...pool, accounts: [pool.accounts[1]!, pool.accounts[0]!] })

describe.each(backends)("Codex tool routes on %s", (backend) => {
  layer(gatewayLayer(backend, { CODEX_POOLER_MAX_BODY_BYTES: "262144" }), {
    excludeTestServices: true,
    timeout: 60_000
  })((it) => {
    it.effect("each is relayed on an account's credentials, body unchanged, and accounted under its own route", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        for (const path of Object.keys(tools) as Array<ToolPath>) {
          fake.reset()
          const answer = yield* callTool(pool.key, path)
          expect(answer.status).toBe(200)
          const json = JSON.parse(answer.text)
          if (path === "/alpha/search") expect(json.output).toContain("codex cli")
          else expect(json.data[0].b64_json.length).toBeGreaterThan(0)
          const seen = fake.requests.at(-1)
          expect(seen?.path).toBe(`/backend-api/codex${path}`)
          expect(seen?.body).toEqual(tools[path].body)
          expect(seen?.accountId).toBe(pool.accounts[0]!.fake.accountId)
          expect(seen?.headers["authorization"]).not.toContain(pool.key)
          expect(seen?.headers["x-codex-turn-metadata"]).toBeDefined()
          const row = yield* settledRow(requestIdOf(answer))
          expect(row).toMatchObject({
            route: tools[path].route,
            transport: "http",
            status: "succeeded",
            httpStatus: 200
          })
        }
      }))

    it.effect("a request without a valid key is refused before upstream; a model outside the key's list is 403", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        const anonymous = yield* callTool("cpk_not_a_key", "/images/generations")
        expect(anonymous.status).toBe(401)
        const { token } = yield* (yield* PoolKeys).create({
          poolSlug: pool.slug,
          limits: { allowedModels: ["gpt-5.5"] }
        })
        const image = yield* callTool(token, "/images/generations")
        expect(image.status).toBe(403)
        expect(JSON.parse(image.text).error.code).toBe("model_not_allowed")
        expect(fake.requests).toHaveLength(0)
        // the search names the turn's model, which the key allows
        expect((yield* callTool(token, "/alpha/search")).status).toBe(200)
      }))

    it.effect("an image of a thread goes to the account that holds the thread, whoever is next in line", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const thread = `thread-${Math.random()}`
        yield* firstInLine(pool)
        expect((yield* postResponses(pool.key, thread)).status).toBe(200)
        const owner = fake.requests.at(-1)?.accountId
        expect(owner).toBe(pool.accounts[0]!.fake.accountId)
        yield* secondInLine(pool)
        for (const path of ["/images/edits", "/alpha/search"] as const) {
          fake.reset()
          expect((yield* callTool(pool.key, path, thread)).status).toBe(200)
          expect(fake.requests.map((request) => request.accountId)).toEqual([owner])
        }
        // a thread nobody holds goes to the next in line
        fake.reset()
        expect((yield* callTool(pool.key, "/images/generations", `thread-${Math.random()}`)).status).toBe(200)
        expect(fake.requests.map((request) => request.accountId)).toEqual([pool.accounts[1]!.fake.accountId])
      }))

    it.effect("an account at its limit or failing is passed over before the first byte, and both attempts are kept", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        for (const fault of [{ kind: "usage_limit" }, { kind: "http_500", status: 502 }] as const) {
          // a Pool each: the usage limit rests its account
          const pool = yield* setupPool(2)
          const [first, second] = [pool.accounts[0]!, pool.accounts[1]!]
          yield* firstInLine(pool)
          fake.reset()
          fake.fault(first.fake.accountId, fault)
          const answer = yield* callTool(pool.key, "/images/generations", `thread-${Math.random()}`)
          expect(answer.status).toBe(200)
          expect(fake.requests.map((request) => request.accountId)).toEqual([
            first.fake.accountId,
            second.fake.accountId
          ])
          expect(yield* settledRow(requestIdOf(answer))).toMatchObject({ status: "succeeded" })
          const attempts = yield* attemptRows(requestIdOf(answer))
          expect(attempts.map((attempt) => [attempt["accountId"], attempt["outcome"]])).toEqual([
            [first.id, "retried"],
            [second.id, "succeeded"]
          ])
        }
      }))

    it.effect("turn metadata that is not a JSON object naming a thread binds nothing and breaks nothing", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const url = yield* gatewayUrl
        for (
          const metadata of ["{not json", "[\"thread-x\"]", JSON.stringify({ thread_id: 42 }), "null", "x".repeat(4000)]
        ) {
          yield* firstInLine(pool)
          fake.reset()
          const answer = yield* send(`${url}/backend-api/codex/alpha/search`, {
            method: "POST",
            headers: { ...toolHeaders(pool.key, "unused"), "x-codex-turn-metadata": metadata },
            body: JSON.stringify(tools["/alpha/search"].body)
          })
          expect(answer.status).toBe(200)
          // no thread: the next in line serves, and no session is bound
          expect(fake.requests.map((request) => request.accountId)).toEqual([pool.accounts[0]!.fake.accountId])
        }
        const bound = yield* Effect.flatMap(
          SqlClient.SqlClient,
          (sql) => sql`SELECT count(*)::int AS n FROM sessions WHERE pool_id = ${pool.poolId}`
        )
        expect(bound).toEqual([{ n: 0 }])
      }))

    it.effect("a body past the size limit is 413 and reaches no one; a malformed one is 400", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        const huge = {
          ...tools["/images/edits"].body,
          images: [{ image_url: `data:image/png;base64,${"A".repeat(300_000)}` }]
        }
        const tooLarge = yield* callTool(pool.key, "/images/edits", "thread-big", huge)
        expect(tooLarge.status).toBe(413)
        const noModel = yield* callTool(pool.key, "/alpha/search", "thread-bad", { id: "thread-bad" })
        expect(noModel.status).toBe(400)
        expect(fake.requests).toHaveLength(0)
      }))

    it.effect("a voice call passes Codex's intent and architecture upstream, and nothing else of the query", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const url = yield* gatewayUrl
        const offer = { sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n", session: { type: "quicksilver" } }
        const call = (query: string) =>
          send(`${url}/backend-api/codex/realtime/calls${query}`, {
            method: "POST",
            headers: { ...codexHeaders(pool.key, "thread-voice"), "openai-alpha": "quicksilver=v1" },
            body: JSON.stringify(offer)
          })
        fake.reset()
        const answer = yield* call("?intent=quicksilver&architecture=avas&debug=1")
        expect(answer.status).toBe(201)
        expect(fake.requests.at(-1)?.query).toEqual({ intent: "quicksilver", architecture: "avas" })
        expect(fake.requests.at(-1)?.headers["openai-alpha"]).toBe("quicksilver=v1")
        fake.reset()
        for (const bad of ["?intent=quick%20silver", "?intent=a&intent=b"]) {
          const refused = yield* call(bad)
          expect(refused.status).toBe(400)
          expect(JSON.parse(refused.text).error.code).toBe("invalid_query")
        }
        expect(fake.requests).toHaveLength(0)
      }))
  })
})
