import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { Effect } from "effect"
import { gatewayUrl } from "./Gateway.ts"

// The MCP SDK's own client on the /mcp of the gateway instance at `origin`, with an operator token; the session ends
// (DELETE) with the scope.
export const connectMcpAt = (origin: string, token: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const transport = new StreamableHTTPClientTransport(new URL(`${origin}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } }
      })
      const client = new Client({ name: "mcp-test", version: "1.0.0" })
      yield* Effect.promise(() => client.connect(transport))
      return { client, transport }
    }),
    ({ client, transport }) => Effect.promise(() => transport.terminateSession().then(() => client.close()))
  ).pipe(Effect.map(({ client }) => client))

// The same on the in-process gateway.
export const connectMcp = (token: string) => Effect.flatMap(gatewayUrl, (origin) => connectMcpAt(origin, token))

export const callTool = (client: Client, name: string, args: Record<string, unknown> = {}) =>
  Effect.promise(() => client.callTool({ name, arguments: args })).pipe(
    Effect.map((result) => ({
      isError: result["isError"] === true,
      text: JSON.stringify(result["content"]),
      structured: result["structuredContent"]
    }))
  )
