import { type ChildProcess, spawn } from "node:child_process"
import { readFile } from "node:fs/promises"
import { afterEach, describe, expect, it } from "vitest"
import { field, parseSse, postJson, userTurn } from "./FakeUpstream/TestClient.ts"

const startMain = (args: ReadonlyArray<string>): { child: ChildProcess; output: Promise<string> } => {
  const child = spawn(process.execPath, ["--import", "tsx", "test/FakeUpstream/main.ts", ...args], {
    cwd: new URL("..", import.meta.url),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let text = ""
  const output = new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8")
      if ((text.match(/auth\.json/g) ?? []).length >= 3) resolve(text)
    })
    child.once("exit", (code) => reject(new Error(`main exited early with ${code}: ${text}`)))
  })
  return { child, output }
}

describe("FakeUpstream main.ts", () => {
  let running: ChildProcess | undefined
  afterEach(() => {
    if (running?.exitCode === null) running.kill("SIGKILL")
  })

  it("prints URLs and auth.json paths, serves them, and stops on SIGTERM", async () => {
    const { child, output } = startMain(["--accounts", "3", "--answer", "pong"])
    running = child
    const text = await output
    const origin = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1]
    expect(origin).toBeDefined()
    expect(text).toContain(`${origin}/backend-api/codex`)
    const paths = [...text.matchAll(/: (\S+auth\.json)$/gm)].map((match) => match[1] ?? "")
    expect(paths).toHaveLength(3)
    const auth: unknown = JSON.parse(await readFile(paths[0] ?? "", "utf8"))
    expect(field(auth, "auth_mode")).toBe("chatgpt")
    const state = await (await fetch(`${origin}/__fake/state`)).json()
    expect(field(state, "accounts", 0, "accessToken")).toBe(field(auth, "tokens", "access_token"))
    const token = String(field(auth, "tokens", "access_token"))
    const headers = { authorization: `Bearer ${token}`, "chatgpt-account-id": "acct-fake-1" }
    const turn = await postJson(`${origin}/backend-api/codex/responses`, userTurn("hello"), headers)
    const completed = parseSse(await turn.text()).at(-1)?.data
    expect(field(completed, "response", "output", 0, "content", 0, "text")).toBe("pong")
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")
    expect(await exited).toBe(0)
    await expect(readFile(paths[0] ?? "", "utf8")).rejects.toThrow()
  })
})
