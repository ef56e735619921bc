import { readFileSync } from "node:fs"
import { WebSocket } from "ws"
import type { FakeAccount, FakeUpstream } from "./FakeUpstream.ts"
import { isRecord, type JsonObject, parseJson } from "./Json.ts"

export const loadCapture = (name: string): ReadonlyArray<JsonObject> =>
  readFileSync(new URL(`./captures/${name}.jsonl`, import.meta.url), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const parsed = parseJson(line)
      if (!parsed.ok || !isRecord(parsed.value)) throw new Error(`bad capture line in ${name}`)
      return parsed.value
    })

export const field = (value: unknown, ...path: ReadonlyArray<string | number>): unknown => {
  let current = value
  for (const key of path) {
    if (typeof key === "number") current = Array.isArray(current) ? current[key] : undefined
    else current = isRecord(current) ? current[key] : undefined
  }
  return current
}

export const keysOf = (value: unknown): ReadonlyArray<string> => isRecord(value) ? Object.keys(value).sort() : []

export const userMessage = (text: string) => ({
  type: "message",
  role: "user",
  content: [{ type: "input_text", text }]
})

export const userTurn = (text: string) => ({ model: "gpt-5.5", input: [userMessage(text)] })

export const capturedRequest = (name: string, path: string) =>
  loadCapture(name).find((entry) => entry["kind"] === "http" && entry["path"] === path)

export const authHeaders = (account: FakeAccount): Record<string, string> => ({
  authorization: `Bearer ${account.accessToken}`,
  "chatgpt-account-id": account.accountId
})

export interface SseEvent {
  readonly event: string
  readonly data: JsonObject
}

export const parseSse = (text: string): ReadonlyArray<SseEvent> =>
  text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? ""
      const parsed = parseJson(/^data: (.*)$/m.exec(block)?.[1] ?? "")
      if (!parsed.ok || !isRecord(parsed.value)) throw new Error(`bad SSE block ${block}`)
      return { event, data: parsed.value }
    })

export const postJson = (
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  init: RequestInit = {}
): Promise<Response> =>
  fetch(url, {
    ...init,
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", ...headers },
    body: JSON.stringify(body)
  })

export const postResponses = async (fake: FakeUpstream, account: FakeAccount, body: unknown, headers = {}) => {
  const res = await postJson(`${fake.url}/responses`, body, { ...authHeaders(account), ...headers })
  const text = await res.text()
  return { res, text, events: res.headers.get("content-type") === "text/event-stream" ? parseSse(text) : [] }
}

export const wsHeaders = (account: FakeAccount, extra: Record<string, string> = {}) => ({
  ...authHeaders(account),
  "openai-beta": "responses_websockets=2026-02-06",
  ...extra
})

const terminalTypes: ReadonlySet<unknown> = new Set([
  "response.completed",
  "response.failed",
  "response.incomplete",
  "error"
])

export class WsClient {
  readonly frames: Array<JsonObject> = []
  readonly #waiters: Array<() => void> = []
  #read = 0
  closed = false

  constructor(readonly ws: WebSocket, readonly upgradeHeaders: Record<string, string>) {
    ws.on("message", (data) => {
      const parsed = parseJson(data.toString())
      if (parsed.ok && isRecord(parsed.value)) this.frames.push(parsed.value)
      this.#wake()
    })
    ws.on("close", () => {
      this.closed = true
      this.#wake()
    })
  }

  static connect(url: string, headers: Record<string, string>): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url.replace(/^http/, "ws"), { headers, perMessageDeflate: true })
      ws.once("upgrade", (res) => {
        const upgrade: Record<string, string> = {}
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === "string") upgrade[name] = value
        resolve(new WsClient(ws, upgrade))
      })
      ws.once("unexpected-response", (_req, res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => reject(new UpgradeRejected(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))))
      })
      ws.once("error", reject)
    })
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter()
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame))
  }

  async next(timeoutMs = 2000): Promise<JsonObject | undefined> {
    const deadline = Date.now() + timeoutMs
    while (this.#read >= this.frames.length) {
      if (this.closed) return undefined
      if (Date.now() > deadline) throw new Error("timed out waiting for a websocket frame")
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
    return this.frames[this.#read++]
  }

  // frames of one response: up to and including response.completed / failed / incomplete / error, or socket close
  async turn(timeoutMs = 2000): Promise<ReadonlyArray<JsonObject>> {
    const out: Array<JsonObject> = []
    for (;;) {
      const frame = await this.next(timeoutMs)
      if (frame === undefined) return out
      out.push(frame)
      if (terminalTypes.has(frame["type"])) return out
    }
  }

  close(): void {
    this.ws.terminate()
  }
}

export class UpgradeRejected extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`upgrade rejected with ${status}`)
  }
}

export const types = (frames: ReadonlyArray<JsonObject>): ReadonlyArray<unknown> => frames.map((frame) => frame["type"])
