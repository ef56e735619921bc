import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError
} from "@modelcontextprotocol/sdk/types.js"
import type { Effect } from "effect"
import type { OperatorScope } from "../Domain/Models.ts"
import { type Tool, toolError } from "./Tool.ts"

export interface Principal {
  readonly tokenId: string
  readonly scope: OperatorScope
}

export type RunPromise = <A>(effect: Effect.Effect<A>) => Promise<A>

const instructions = "Operator tools for Codex Pooler: inspect Pools, accounts, keys, requests and usage" +
  "; with an admin token also pause/resume accounts, clear cooldowns, set strategies, and create, limit or revoke keys."

// One MCP server per session, bound to the operator token that opened it: a read token is not even shown the writes.
export const makeSessionServer = (tools: ReadonlyArray<Tool>, principal: Principal, run: RunPromise) => {
  const allowed = (tool: Tool) => tool.scope === "read" || principal.scope === "admin"
  const server = new Server({ name: "codex-pooler", version: "0.1.0" }, { capabilities: { tools: {} }, instructions })

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: tools.filter(allowed).map((tool) => ({
      name: tool.name,
      description: tool.description,
      inputSchema: tool.inputSchema,
      outputSchema: tool.outputSchema,
      annotations: { readOnlyHint: tool.scope === "read", destructiveHint: false }
    }))
  }))

  server.setRequestHandler(CallToolRequestSchema, (request): Promise<CallToolResult> | CallToolResult => {
    const tool = tools.find((candidate) => candidate.name === request.params.name)
    if (tool === undefined) throw new McpError(ErrorCode.InvalidParams, `unknown tool "${request.params.name}"`)
    if (!allowed(tool)) {
      return toolError(`${tool.name} changes state and needs an admin operator token; this token has the read scope`)
    }
    return run(tool.call(request.params.arguments, { kind: "operator_token", id: principal.tokenId }))
  })

  return server
}
