import { Effect } from "effect"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import type { WebSocketServer } from "ws"
import type WebSocket from "ws"
import { MethodNotAllowed, WebSocketHandshakeInvalid } from "../Errors.ts"

// The checks ws's handleUpgrade makes (ws 8 lib/websocket-server.js), made before upstream is connected: a handshake
// ws would refuse never opens an upstream socket. Only RFC 6455's version 13 is accepted (ws also takes hybi-08).
const keyPattern = /^[+/0-9A-Za-z]{22}==$/

export const checkHandshake = (request: IncomingMessage, path: string) => {
  if (request.method !== "GET") {
    return Effect.fail(new MethodNotAllowed({ method: request.method ?? "", path, allow: ["GET"] }))
  }
  if (request.headers.upgrade?.toLowerCase() !== "websocket") {
    return Effect.fail(new WebSocketHandshakeInvalid({ reason: "upgrade" }))
  }
  const key = request.headers["sec-websocket-key"]
  if (key === undefined || !keyPattern.test(key)) return Effect.fail(new WebSocketHandshakeInvalid({ reason: "key" }))
  if (request.headers["sec-websocket-version"] !== "13") {
    return Effect.fail(new WebSocketHandshakeInvalid({ reason: "version" }))
  }
  return Effect.void
}

// handleUpgrade completes at once or refuses without calling back (the client gone, a header ws refuses that the
// checks above do not cover, which ws answers itself); either way the wait is bounded.
const completeTimeoutMs = 5_000

export const completeHandshake = (
  wss: WebSocketServer,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  onError: (error: Error) => void
) =>
  Effect.async<WebSocket, WebSocketHandshakeInvalid>((resume) => {
    let settled = false
    const settle = (outcome: Effect.Effect<WebSocket, WebSocketHandshakeInvalid>) => {
      if (settled) return
      settled = true
      socket.off("close", gone)
      resume(outcome)
    }
    const gone = () => settle(Effect.fail(new WebSocketHandshakeInvalid({ reason: "gone" })))
    socket.once("close", gone)
    wss.handleUpgrade(request, socket, head, (client) => {
      if (settled) return client.terminate()
      // Before anything can be read from it: a frame that breaks RFC 6455 makes ws emit "error", fatal unheard.
      client.on("error", onError)
      settle(Effect.succeed(client))
    })
    if (!settled && (socket.destroyed || !socket.writable)) gone()
    return Effect.sync(() => {
      settled = true
      socket.off("close", gone)
    })
  }).pipe(
    Effect.timeoutFail({
      duration: completeTimeoutMs,
      onTimeout: () => new WebSocketHandshakeInvalid({ reason: "gone" })
    })
  )
