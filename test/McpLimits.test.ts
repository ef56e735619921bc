import { describe, expect, it, layer } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { Effect } from "effect"
import { makeSessions } from "../src/Mcp/Sessions.ts"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { backends } from "./support/Databases.ts"
import { gatewayLayer, gatewayUrl } from "./support/Gateway.ts"

const token = Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope: "read" })).pipe(
  Effect.map((created) => created.token)
)

// An MCP SDK client session; at the end it is ended if the gateway still has it (an evicted one answers 404).
const session = (secret: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const transport = new StreamableHTTPClientTransport(new URL(`${yield* gatewayUrl}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${secret}` } }
      })
      const client = new Client({ name: "mcp-limits", version: "1.0.0" })
      yield* Effect.promise(() => client.connect(transport))
      return { client, transport }
    }),
    ({ client, transport }) =>
      Effect.promise(() => transport.terminateSession().catch(() => undefined).then(() => client.close()))
  ).pipe(Effect.map(({ client }) => client))

// "ok" when the session still answers a tool call, else the HTTP status and what the gateway said.
const answers = (client: Client) =>
  Effect.promise(() =>
    client.callTool({ name: "service_status", arguments: {} }).then(
      (result) => result["isError"] === true ? "tool error" : "ok",
      (error: unknown) => error instanceof StreamableHTTPError ? `${error.code} ${error.message}` : String(error)
    )
  )

describe.each(backends)("operator MCP session limits on %s", (backend) => {
  const env = { CODEX_POOLER_MCP_SESSIONS_PER_TOKEN: "3", CODEX_POOLER_MCP_SESSIONS_MAX: "5" }
  layer(gatewayLayer(backend, env), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.scoped("past a token's cap its least recently seen session goes; past the total cap, anyone's does", () =>
      Effect.gen(function*() {
        const a = yield* token
        const first = yield* session(a)
        const rest = yield* Effect.forEach([1, 2, 3], () => session(a))
        const evicted = yield* answers(first)
        expect(evicted).toMatch(/^404 .*Session not found/)
        for (const client of rest) expect(yield* answers(client)).toBe("ok")

        // Seen just now, the third of A's sessions outlives the second when the total cap is passed.
        expect(yield* answers(rest[0]!)).toBe("ok")
        const [b, c] = [yield* token, yield* token]
        const others = [yield* session(b), yield* session(b), yield* session(c)]
        const states = yield* Effect.forEach([first, ...rest, ...others], answers)
        expect(states.filter((state) => state === "ok")).toHaveLength(5)
        expect(states.slice(1).map((state) => state === "ok")).toEqual([true, false, true, true, true, true])
      }))
  })
})

describe("the session registry", () => {
  const principal = (tokenId: string) => ({ tokenId, scope: "read" as const })
  const fakeTransport = () => ({ close: () => Promise.resolve() })

  it("keeps per-token and total counts at their caps, pushing out the least recently seen", () => {
    const evicted: Array<string> = []
    const sessions = makeSessions<ReturnType<typeof fakeTransport>>(
      { perToken: 2, total: 3 },
      (session) => void evicted.push(`${session.principal.tokenId}@${session.lastSeen}`)
    )
    sessions.add("a1", { transport: fakeTransport(), principal: principal("a"), lastSeen: 1 })
    sessions.add("a2", { transport: fakeTransport(), principal: principal("a"), lastSeen: 2 })
    sessions.seen("a1", 3)
    sessions.add("a3", { transport: fakeTransport(), principal: principal("a"), lastSeen: 4 })
    expect(evicted).toEqual(["a@2"])
    expect(sessions.get("a2")).toBeUndefined()
    sessions.add("b1", { transport: fakeTransport(), principal: principal("b"), lastSeen: 5 })
    sessions.add("c1", { transport: fakeTransport(), principal: principal("c"), lastSeen: 6 })
    expect(evicted).toEqual(["a@2", "a@3"])
    expect(sessions.size).toBe(3)
    expect(sessions.takeIdle(6).map((session) => session.principal.tokenId)).toEqual(["a", "b"])
    expect(sessions.size).toBe(1)
    expect(sessions.get("c1")?.lastSeen).toBe(6)
  })
})
