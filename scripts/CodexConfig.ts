// The Codex CLI config blocks the README documents, for a gateway at `origin`.
export const codexConfig = (origin: string) => `# ~/.codex/config.toml

# Websocket provider (what Codex prefers)
model_provider = "codex-pooler"

[model_providers.codex-pooler]
name = "OpenAI"
base_url = "${origin}/backend-api/codex"
env_key = "CODEX_POOLER_API_KEY"
wire_api = "responses"
requires_openai_auth = true
supports_websockets = true

# HTTP/SSE provider (select it with: codex -c model_provider=codex-pooler-http)
[model_providers.codex-pooler-http]
name = "OpenAI"
base_url = "${origin}/backend-api/codex"
env_key = "CODEX_POOLER_API_KEY"
wire_api = "responses"
requires_openai_auth = true
supports_websockets = false

# Operator MCP server
[mcp_servers.codex_pooler]
url = "${origin}/mcp"
bearer_token_env_var = "CODEX_POOLER_MCP_KEY"
`
