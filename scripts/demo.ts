import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startFakeUpstream } from "../test/FakeUpstream/FakeUpstream.ts"
import { codexConfig } from "./CodexConfig.ts"

// `npm run demo`: the fake Codex backend plus the gateway on a fresh embedded data dir, wired together.
const root = fileURLToPath(new URL("../", import.meta.url))
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "codex-pooler-demo-"))
const port = process.env["PORT"] ?? "4000"
const upstream = await startFakeUpstream({ accounts: [{ email: "alice@example.com" }, { email: "bob@example.com" }] })
const env = {
  ...process.env,
  PORT: port,
  CODEX_POOLER_DATA_DIR: dataDir,
  CODEX_POOLER_UPSTREAM_URL: upstream.url,
  CODEX_POOLER_AUTH_URL: upstream.authUrl,
  CODEX_POOLER_REALTIME_URL: upstream.realtimeUrl
}

const run = (args: ReadonlyArray<string>) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], { cwd: root, env })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("close", (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`codex-pooler ${args.join(" ")}: ${stderr}`)))
  })

const serve = (): Promise<{ child: ChildProcess; origin: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "serve"], { cwd: root, env })
    let output = ""
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /Listening on (http:\/\/[^\s"]+)/.exec(output)
      if (match?.[1]) resolve({ child, origin: match[1] })
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.on("exit", (code) => reject(new Error(`gateway exited with ${code}:\n${output}`)))
  })

const gateway = await serve()
const last = (text: string) => text.trimEnd().split("\n").at(-1) ?? ""
await run(["pool", "create", "demo", "--name", "Demo pool"])
for (const account of upstream.accounts()) {
  const file = path.join(dataDir, `auth-${account.accountId}.json`)
  fs.writeFileSync(file, JSON.stringify(upstream.authJson(account.accountId)), { mode: 0o600 })
  await run(["account", "import", "--pool", "demo", file])
}
const key = last(await run(["key", "create", "--pool", "demo", "--name", "demo-key"]))
const operatorToken = last(await run(["operator-token", "create", "--name", "demo-operator", "--scope", "admin"]))

process.stdout.write(`
Codex Pooler demo is running.
  gateway        ${gateway.origin}  (data dir ${dataDir})
  fake upstream  ${upstream.url}  (2 accounts: alice@example.com, bob@example.com)

# ~/.codex/config.toml (websocket provider; HTTP/SSE with: codex -c model_provider=codex-pooler-http)
${codexConfig(gateway.origin)}
# paste into your shell:
export CODEX_POOLER_API_KEY=${key}
export CODEX_POOLER_MCP_KEY=${operatorToken}

Then: codex exec --skip-git-repo-check "say hi"
Ctrl-C stops the gateway and the fake upstream.
`)

const stop = async () => {
  gateway.child.removeAllListeners("exit")
  const exited = new Promise((resolve) => gateway.child.once("exit", resolve))
  gateway.child.kill("SIGTERM")
  await exited
  await upstream.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
  process.exit(0)
}
process.once("SIGINT", () => void stop())
process.once("SIGTERM", () => void stop())
