import { readdirSync, readlinkSync } from "node:fs"
import { performance } from "node:perf_hooks"
import WebSocket from "ws"
import { responsesBody } from "../test/support/Requests.ts"
import type { CloseLine } from "./ws-report.ts"

// One benchmark websocket: counts server→client frames, runs one response.create at a time, closes cleanly.
export interface Errors {
  count: number
  sample: string
}

export const newErrors = (): Errors => ({ count: 0, sample: "" })

export const fail = (errors: Errors, error: unknown) => {
  errors.count++
  if (errors.sample === "") errors.sample = (error instanceof Error ? error.message : String(error)).slice(0, 300)
}

export interface Client {
  readonly socket: WebSocket
  readonly frames: () => number
  // Sends `body` and resolves with the ms until its response.completed; rejects on an error frame, a close or a timeout.
  readonly respond: (body: string) => Promise<number>
  // Resolves with the close code once the server has answered our close frame (or terminates after the timeout).
  readonly close: () => Promise<number>
}

export const timeoutMs = 30_000
// Every socket that completed its upgrade, so the close count can be checked against it.
export const tally = { upgraded: 0 }
const failed = new Set(["error", "response.failed", "response.incomplete"])

// Both sides of a gateway bridge run without permessage-deflate, so the bench client does not offer it either.
export const connect = (url: string, headers: Record<string, string>) =>
  new Promise<Client>((resolve, reject) => {
    const socket = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: timeoutMs })
    let frames = 0
    let pending: { readonly done: (error: Error | null) => void } | null = null
    const closed = new Promise<number>((done) => socket.once("close", (code) => done(code)))
    void closed.then((code) => pending?.done(new Error(`socket closed (${code}) before response.completed`)))
    socket.on("error", (error) => {
      pending?.done(error)
      reject(error)
    })
    socket.on("unexpected-response", (request, response) => {
      let body = ""
      response.on("data", (chunk: Buffer) => (body += chunk.toString()))
      response.on("end", () => {
        reject(new Error(`HTTP ${response.statusCode}: ${body.slice(0, 200)}`))
        request.destroy()
      })
      response.on("error", reject)
    })
    socket.on("message", (data) => {
      frames++
      if (pending === null) return
      const head = (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)).subarray(0, 120).toString()
      const type = /"type":"([^"]+)"/.exec(head)?.[1] ?? ""
      if (type === "response.completed") pending.done(null)
      else if (failed.has(type)) pending.done(new Error(`${type} frame: ${head}`))
    })
    const respond = (body: string) =>
      new Promise<number>((done, refuse) => {
        if (pending !== null) return refuse(new Error("a response is already in flight on this socket"))
        const started = performance.now()
        const timer = setTimeout(
          () => pending?.done(new Error(`no response.completed within ${timeoutMs} ms`)),
          timeoutMs
        )
        pending = {
          done: (error) => {
            clearTimeout(timer)
            pending = null
            if (error === null) done(performance.now() - started)
            else refuse(error)
          }
        }
        socket.send(body, (error) => {
          if (error) pending?.done(error)
        })
      })
    const close = () => {
      if (socket.readyState === WebSocket.OPEN) socket.close(1000, "bench done")
      const timer = setTimeout(() => socket.terminate(), 10_000)
      return closed.finally(() => clearTimeout(timer))
    }
    socket.once("open", () => {
      tally.upgraded++
      resolve({ socket, frames: () => frames, respond, close })
    })
  })

// Runs `task` for 0..count-1 with at most `width` in flight.
export const bounded = async (count: number, width: number, task: (index: number) => Promise<void>) => {
  let next = 0
  const worker = async () => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker))
}

// Open sockets of a process (TCP and Unix), from /proc/<pid>/fd.
export const socketFds = (pid: number) =>
  readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")
    } catch {
      return false
    }
  }).length

export const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN

export interface Target {
  readonly name: "direct" | "gateway"
  readonly url: string
  readonly pid: number
  readonly headers: (thread: string) => Record<string, string>
}

export const beta = { "openai-beta": "responses_websockets=2026-02-06" }
const openWidth = 50
const thread = (index: number) => `01a216ab-0000-7000-9000-${index.toString(16).padStart(12, "0")}`
export const create = (index: number, generate: boolean) =>
  JSON.stringify({
    type: "response.create",
    ...responsesBody("hello", { prompt_cache_key: thread(index) }),
    ...(generate ? {} : { generate: false })
  })

// Sockets from..from+count-1, at most `openWidth` opening at once; each is open once its prewarm response completed.
export const openMany = async (target: Target, from: number, count: number, errors: Errors) => {
  const clients: Array<Client> = []
  await bounded(count, openWidth, async (offset) => {
    let client: Client | null = null
    try {
      client = await connect(target.url, target.headers(thread(from + offset)))
      await client.respond(create(from + offset, false))
      clients.push(client)
    } catch (error) {
      fail(errors, error)
      client?.socket.terminate()
    }
  })
  return clients
}

export const closeAll = async (clients: ReadonlyArray<Client>, line: CloseLine) => {
  const codes = await Promise.all(clients.map((client) => client.close()))
  line.closed += codes.length
  line.clean += codes.filter((code) => code === 1000).length
}
