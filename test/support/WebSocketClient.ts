import { Effect } from "effect"
import WebSocket from "ws"

export interface Client {
  readonly socket: WebSocket
  readonly upgrade: Record<string, string | Array<string> | undefined>
  readonly frames: Array<{ readonly type: string; readonly [key: string]: unknown }>
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>
  readonly next: (type: string) => Promise<void>
}

export interface Refused {
  readonly status: number
  readonly body: string
}

// A websocket client (ws) on `url`: the open socket with the JSON frames it received, or the refused upgrade's answer.
export const connectWebSocket = (url: string, headers: Record<string, string>) =>
  Effect.promise(() =>
    new Promise<Client | Refused>((resolve) => {
      const socket = new WebSocket(url, { headers })
      const frames: Client["frames"] = []
      const waiters: Array<() => void> = []
      socket.on("message", (data) => {
        frames.push(JSON.parse(data.toString()))
        for (const waiter of waiters.splice(0)) waiter()
      })
      const closed = new Promise<{ code: number; reason: string }>((done) =>
        socket.on("close", (code, reason) => done({ code, reason: reason.toString() }))
      )
      const next = (type: string) =>
        new Promise<void>((done) => {
          const check = () => (frames.some((frame) => frame.type === type) ? done() : waiters.push(check))
          check()
        })
      socket.on("upgrade", (response) => resolve({ socket, upgrade: response.headers, frames, closed, next }))
      socket.on("unexpected-response", (_request, response) => {
        let body = ""
        response.on("data", (chunk: Buffer) => (body += chunk.toString()))
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
      })
    })
  )
