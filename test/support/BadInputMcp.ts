import fc from "fast-check"
import { maxBodyBytes } from "./BadInput.ts"
import { type RawAnswer, type RawRequest, rawRequest } from "./RawHttp.ts"

// Operator MCP messages for the bad-input suite: malformed JSON-RPC, wrong params, unknown tools, huge arguments, odd
// sessions and credentials, all POSTed (or sent with another method) to /mcp.

export interface McpCase {
  readonly request: RawRequest
  readonly [fc.toStringMethod]: () => string
}

const accept = ["accept", "application/json, text/event-stream"] as const
const json = ["content-type", "application/json"] as const
const text = (value: string) => Buffer.from(value, "utf8")

interface McpSession {
  readonly sessionId: string
  readonly answer: RawAnswer
}

const initialize = (id: unknown = 1, params: unknown = {
  protocolVersion: "2025-06-18",
  capabilities: {},
  clientInfo: { name: "bad-input", version: "1.0.0" }
}) => ({ jsonrpc: "2.0", id, method: "initialize", params })

// Opens a session the way a client does (initialize, then the initialized notification); answers its id.
export const openMcpSession = async (port: number, token: string): Promise<McpSession> => {
  const headers = [["authorization", `Bearer ${token}`], accept, json] as const
  const body = text(JSON.stringify(initialize()))
  const answer = await rawRequest(port, { method: "POST", path: "/mcp", headers, body })
  const sessionId = /^mcp-session-id: *(.+)$/im.exec(answer.head)?.[1]?.trim() ?? ""
  await rawRequest(port, {
    method: "POST",
    path: "/mcp",
    headers: [...headers, ["mcp-session-id", sessionId]],
    body: text(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }))
  })
  return { sessionId, answer }
}

const tools = [
  "list_accounts",
  "get_account",
  "pause_account",
  "resume_account",
  "clear_account_cooldown",
  "create_key",
  "revoke_key",
  "set_key_limits",
  "list_keys",
  "get_key",
  "list_pools",
  "get_pool",
  "set_pool_strategy",
  "list_requests",
  "usage_summary",
  "service_status",
  "session_counts"
]

// Strings a tool's arguments may carry: ordinary, NUL and other control characters (PostgreSQL refuses NUL in
// text), lone surrogates, and long ones.
const argString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom("\u0000", "a\u0000b", "\ud800", "%s%n", "' OR 1=1 --", "../../etc/passwd", "x".repeat(300_000))
)
const argValue = fc.oneof(
  argString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(argString, { maxLength: 3 })
)
const argName = fc.constantFrom("id", "pool", "name", "slug", "strategy", "limit", "since", "by", "rpm", "models")
const args = fc.oneof(fc.dictionary(argName, argValue, { maxKeys: 4 }), fc.jsonValue({ maxDepth: 2 }))

const rpcId = fc.oneof(
  { arbitrary: fc.nat(), weight: 6 },
  fc.string({ maxLength: 8 }),
  fc.constantFrom<unknown>(null, { x: 1 }, 2 ** 60, -1.5)
)

const methods = fc.constantFrom("tools/list", "resources/list", "prompts/get", "ping", "logging/setLevel")

const params = fc.jsonValue({ maxDepth: 2 })

const messages = fc.oneof(
  {
    arbitrary: fc.record({ id: rpcId, name: fc.oneof(fc.constantFrom(...tools), fc.string({ maxLength: 12 })), args })
      .map(({ args: values, id, name }) => ({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name, arguments: values }
      })),
    weight: 4
  },
  fc.record({ id: rpcId, method: fc.oneof(methods, fc.string({ maxLength: 12 })), params: params })
    .map((fields) => ({ jsonrpc: "2.0", ...fields })),
  fc.record({ jsonrpc: fc.constantFrom("1.0", 2, undefined), id: rpcId, method: fc.constant("tools/list") }),
  fc.record({ id: rpcId, params: fc.jsonValue({ maxDepth: 2 }) }).map(({ id, params }) => initialize(id, params)),
  fc.constant({ jsonrpc: "2.0", method: "notifications/initialized" })
)

const labelled = (label: string, value: unknown) => ({ label: label.slice(0, 160), bytes: text(JSON.stringify(value)) })
const huge = `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"${"a".repeat(maxBodyBytes * 5)}"}}`
const notUtf8 = Buffer.concat([text(`{"jsonrpc":"2.0","id":1,"method":"`), Buffer.from([0xff, 0xfe]), text(`"}`)])

const bodies = fc.oneof(
  { arbitrary: messages.map((message) => labelled(JSON.stringify(message), message)), weight: 5 },
  fc.array(messages, { maxLength: 4 }).map((batch) => labelled(`batch of ${batch.length}`, batch)),
  fc.integer({ min: 1, max: 60 }).map((cut) => ({
    label: `truncated at ${cut}`,
    bytes: text(JSON.stringify(initialize()).slice(0, cut))
  })),
  fc.jsonValue({ maxDepth: 1 }).map((value) => labelled(`bare ${JSON.stringify(value)}`, value)),
  fc.uint8Array({ maxLength: 128 }).map((bytes) => ({ label: "random bytes", bytes })),
  fc.constant({ label: "invalid UTF-8", bytes: notUtf8 }),
  fc.constant({ label: "over the body limit", bytes: text(huge) })
)

export const mcpCases = (token: string, sessionId: string): fc.Arbitrary<McpCase> => {
  const asPoolKey = token.replace("cpo", "cpk")
  return fc.record({
    method: fc.oneof({ arbitrary: fc.constant("POST"), weight: 8 }, fc.constantFrom("GET", "DELETE", "PUT", "PATCH")),
    auth: fc.oneof(
      { arbitrary: fc.constant(`Bearer ${token}`), weight: 8 },
      fc.constantFrom(undefined, "Bearer", `Bearer ${token}x`, `Basic ${token}`, `Bearer ${asPoolKey}`)
    ),
    session: fc.oneof(
      { arbitrary: fc.constant(sessionId), weight: 12 },
      fc.constantFrom(undefined, "00000000-0000-4000-8000-000000000000", "x".repeat(4_000), "a\u0001b", `${sessionId} `)
    ),
    accept: fc.oneof(
      { arbitrary: fc.constant(accept[1]), weight: 8 },
      fc.constantFrom("application/json", "text/event-stream", undefined)
    ),
    body: bodies
  }).map(({ accept: acceptValue, auth, body, method, session }) => {
    // GET with the good session opens the server's event stream, meant to stay open, and DELETE would end the session
    // the other cases use: both are asked only of bad sessions.
    const verb = (method === "GET" || method === "DELETE") && session === sessionId ? "POST" : method
    const headers: Array<readonly [string, string]> = [json]
    if (auth !== undefined) headers.push(["authorization", auth])
    if (session !== undefined) headers.push(["mcp-session-id", session])
    if (acceptValue !== undefined) headers.push(["accept", acceptValue])
    const request: RawRequest = { method: verb, path: "/mcp", headers, body: body.bytes }
    const shown = headers.map(([name, value]) => `${name}: ${JSON.stringify(value.slice(0, 60))}`).join(", ")
    const shownBody = `${body.label} (${body.bytes.length} bytes)`
    return { request, [fc.toStringMethod]: () => `${verb} /mcp [${shown}] body: ${shownBody}` }
  })
}
