import { Effect } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"

// The operator MCP endpoint at /mcp (Streamable HTTP). Not built yet: answers 404 in the Codex error shape.
export class Mcp extends Effect.Service<Mcp>()("Gateway/Mcp", {
  effect: Effect.sync(() => {
    const handle = (_request: IncomingMessage, response: ServerResponse) => {
      const body = JSON.stringify({ error: { type: "invalid_request_error", code: "not_found", message: "/mcp is not available yet" } })
      response.writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      response.end(body)
    }
    return { handle } as const
  })
}) {}
