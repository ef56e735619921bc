import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { httpProvider, mcpServer, websocketProvider } from "../../scripts/CodexConfig.ts"
import { repoRoot } from "./Cli.ts"
import { tempDir } from "./Databases.ts"

export interface CodexRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const codexBin = path.join(repoRoot, "node_modules", ".bin", "codex")

// The real Codex CLI (the pinned devDependency) with the README's provider block, kept on this machine: its own
// background calls go to a dead proxy, only loopback is reached directly.
export const codexExec = (options: {
  readonly origin: string
  readonly key: string
  readonly prompt: string
  readonly transport: "http" | "websocket"
  // the README's MCP server block, pointed at `origin` with this operator token
  readonly mcp?: { readonly origin: string; readonly operatorToken: string }
  // `model = "…"` in config.toml (Codex's default otherwise)
  readonly model?: string
  // a ChatGPT auth.json in CODEX_HOME, beside the Pool key: Codex offers its image tool only then
  readonly authJson?: unknown
}) =>
  Effect.gen(function*() {
    const home = yield* tempDir("codex-home")
    const work = yield* tempDir("codex-work")
    const provider = options.transport === "http" ? "codex-pooler-http" : "codex-pooler"
    const block = options.transport === "http" ? httpProvider(options.origin) : websocketProvider(options.origin)
    const mcp = options.mcp === undefined ? "" : `\n${mcpServer(options.mcp.origin)}`
    const model = options.model === undefined ? "" : `model = "${options.model}"\n`
    fs.writeFileSync(path.join(home, "config.toml"), `${model}model_provider = "${provider}"\n\n${block}${mcp}`)
    if (options.authJson !== undefined) {
      fs.writeFileSync(path.join(home, "auth.json"), JSON.stringify(options.authJson), { mode: 0o600 })
    }
    return yield* Effect.async<CodexRun>((resume) => {
      const child = spawn(codexBin, ["exec", "--skip-git-repo-check", options.prompt], {
        cwd: work,
        env: {
          PATH: process.env["PATH"] ?? "",
          HOME: home,
          CODEX_HOME: home,
          CODEX_POOLER_API_KEY: options.key,
          ...(options.mcp === undefined ? {} : { CODEX_POOLER_MCP_KEY: options.mcp.operatorToken }),
          HTTPS_PROXY: "http://127.0.0.1:9",
          HTTP_PROXY: "http://127.0.0.1:9",
          NO_PROXY: "127.0.0.1,localhost"
        },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
      return Effect.sync(() => child.kill("SIGKILL"))
    })
  })

// What Codex sent upstream, from the fake's record: its HTTP /responses calls, websocket upgrades and client frames,
// and the item types of a request's input.
export const responsesCalls = <R extends { readonly path: string; readonly kind: string }>(
  requests: ReadonlyArray<R>
) => requests.filter((request) => request.kind === "http" && request.path === "/backend-api/codex/responses")

export const inputTypes = (body: unknown) =>
  typeof body === "object" && body !== null && "input" in body && Array.isArray(body.input)
    ? body.input.map((item: { type?: string }) => item.type)
    : []

export const upgrades = <R extends { readonly kind: string }>(requests: ReadonlyArray<R>) =>
  requests.filter((request) => request.kind === "ws-upgrade")
export const frames = <R extends { readonly kind: string }>(requests: ReadonlyArray<R>) =>
  requests.filter((request) => request.kind === "ws-in")
