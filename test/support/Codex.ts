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

// `codex app-server` (the JSON-RPC server behind Codex's TUI and IDE clients) with the README's provider block, its
// ChatGPT backend at the gateway (`chatgpt_base_url`) and `authJson` as its sign-in: the requests are sent in order,
// each answer awaited (bounded), then the server is stopped. Answers are the JSON-RPC `result` or `error` objects.
export const codexAppServer = (options: {
  readonly origin: string
  readonly key: string
  readonly authJson: unknown
  readonly requests: ReadonlyArray<{ readonly method: string; readonly params: unknown }>
}) =>
  Effect.gen(function*() {
    const home = yield* tempDir("codex-home")
    const config = `model_provider = "codex-pooler-http"\nchatgpt_base_url = "${options.origin}/backend-api/"\n\n${
      httpProvider(options.origin)
    }`
    fs.writeFileSync(path.join(home, "config.toml"), config)
    fs.writeFileSync(path.join(home, "auth.json"), JSON.stringify(options.authJson), { mode: 0o600 })
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(codexBin, ["app-server"], {
          cwd: home,
          env: {
            PATH: process.env["PATH"] ?? "",
            HOME: home,
            CODEX_HOME: home,
            CODEX_POOLER_API_KEY: options.key,
            HTTPS_PROXY: "http://127.0.0.1:9",
            HTTP_PROXY: "http://127.0.0.1:9",
            NO_PROXY: "127.0.0.1,localhost"
          },
          stdio: ["pipe", "pipe", "ignore"]
        })
      ),
      (child) => Effect.sync(() => child.kill("SIGKILL"))
    )
    const answers = new Map<number, unknown>()
    let buffered = ""
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop() ?? ""
      for (const line of lines) {
        try {
          const message = JSON.parse(line) as {
            readonly id?: number
            readonly result?: unknown
            readonly error?: unknown
          }
          if (typeof message.id === "number") answers.set(message.id, message.result ?? { error: message.error })
        } catch {
          // a line that is not JSON-RPC (none expected) is skipped
        }
      }
    })
    const call = (id: number, method: string, params: unknown) =>
      Effect.promise(async () => {
        child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`)
        for (let waited = 0; waited < 30_000 && !answers.has(id); waited += 20) {
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        return answers.get(id)
      })
    yield* call(0, "initialize", { clientInfo: { name: "codex-pooler-test", title: "test", version: "0.0.1" } })
    child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "initialized" })}\n`)
    const results: Array<unknown> = []
    for (const [index, request] of options.requests.entries()) {
      results.push(yield* call(index + 1, request.method, request.params))
    }
    return results
  }).pipe(Effect.scoped)

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
