import { Effect } from "effect"
import WebSocket from "ws"

export interface Closed {
  readonly by: "client" | "upstream" | "gateway"
  readonly code: number
}

export interface FrameObserver {
  readonly fromClient: (data: Buffer, isBinary: boolean) => void
  readonly fromUpstream: (data: Buffer, isBinary: boolean) => void
}

// A sender is paused once this much is queued towards its peer and resumed below a quarter of it, so a reader that
// stops reading holds the gateway to a fixed number of buffered bytes per direction.
export const highWaterMark = 4 * 1024 * 1024
const lowWaterMark = highWaterMark / 4
const pingEveryMs = 30_000

// 1005 (no status) and 1006 (abnormal) are reported, never sent; they become codes a peer may receive.
export const sendableCode = (code: number) =>
  code === 1005 ? 1000 : code === 1006 || code === 1015 || code === 1004 ? 1011 : code < 1000 || code >= 5000 ? 1011 : code

const toBuffer = (data: WebSocket.RawData): Buffer =>
  Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)

// Observed across all bridges, for tests and, later, metrics.
export interface BufferStats {
  maxBuffered: number
  pauses: number
}

// Frames pass both ways unmodified (text stays text, binary stays binary), with bounded buffering and close codes
// carried across. Completes when either side closes; interrupting it closes both.
export const bridgeFrames = (client: WebSocket, upstream: WebSocket, observer: FrameObserver, stats: BufferStats) =>
  Effect.async<Closed>((resume) => {
    const relay = (from: WebSocket, to: WebSocket, observe: (data: Buffer, isBinary: boolean) => void) =>
      from.on("message", (raw, isBinary) => {
        const data = toBuffer(raw)
        observe(data, isBinary)
        if (to.readyState !== WebSocket.OPEN) return
        to.send(data, { binary: isBinary }, () => {
          if (from.isPaused && to.bufferedAmount <= lowWaterMark) from.resume()
        })
        stats.maxBuffered = Math.max(stats.maxBuffered, to.bufferedAmount)
        if (to.bufferedAmount > highWaterMark && !from.isPaused) {
          stats.pauses++
          from.pause()
        }
      })
    relay(client, upstream, observer.fromClient)
    relay(upstream, client, observer.fromUpstream)

    // Pings keep idle sockets alive through proxies; a side that has not answered the previous ping is gone.
    const answered = new Set<WebSocket>([client, upstream])
    for (const socket of [client, upstream]) socket.on("pong", () => answered.add(socket))
    const pings = setInterval(() => {
      for (const socket of [client, upstream]) {
        if (socket.readyState !== WebSocket.OPEN) continue
        if (!answered.delete(socket)) socket.terminate()
        else socket.ping()
      }
    }, pingEveryMs)
    const done = (closed: Closed) => {
      clearInterval(pings)
      resume(Effect.succeed(closed))
    }
    client.once("close", (code, reason) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.close(sendableCode(code), reason)
      done({ by: "client", code })
    })
    upstream.once("close", (code, reason) => {
      if (client.readyState === WebSocket.OPEN) client.close(sendableCode(code), reason)
      done({ by: "upstream", code })
    })
    client.on("error", () => client.terminate())
    upstream.on("error", () => upstream.terminate())
    // Interrupted: the gateway is shutting down or has closed the socket itself (revocation).
    return Effect.sync(() => {
      clearInterval(pings)
      client.close(1001, "gateway going away")
      upstream.close(1001, "gateway going away")
    })
  })
