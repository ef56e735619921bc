// The Codex CLI config blocks the README documents, for a gateway at `origin`. One source for the README test,
// the demo and the end-to-end tests.
export const websocketProvider = (origin: string) =>
  `[model_providers.codex-pooler]
name = "OpenAI"
base_url = "${origin}/backend-api/codex"
env_key = "CODEX_POOLER_API_KEY"
wire_api = "responses"
requires_openai_auth = true
supports_websockets = true
`

export const httpProvider = (origin: string) =>
  `[model_providers.codex-pooler-http]
name = "OpenAI"
base_url = "${origin}/backend-api/codex"
env_key = "CODEX_POOLER_API_KEY"
wire_api = "responses"
requires_openai_auth = true
supports_websockets = false
`

export const mcpServer = (origin: string) =>
  `[mcp_servers.codex_pooler]
url = "${origin}/mcp"
bearer_token_env_var = "CODEX_POOLER_MCP_KEY"
`

export const codexConfig = (origin: string) =>
  `model_provider = "codex-pooler"\n\n${websocketProvider(origin)}\n${httpProvider(origin)}\n${mcpServer(origin)}`
