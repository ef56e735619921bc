import WebSocket from "ws"

// How long a socket the gateway has closed may take to answer the close frame before its TCP connection is cut; ws
// alone would wait 30 s, while a peer that never answers keeps its socket (and whatever it sends) that long.
export const closeGraceMs = 2_000

// Closes (when still open) and makes sure the socket is gone within the grace: a peer that does not answer the close
// frame, or a close begun elsewhere (ws answering a protocol error), is terminated.
export const closeWithin = (socket: WebSocket, code: number, reason = "") => {
  if (socket.readyState === WebSocket.CLOSED) return
  if (socket.readyState === WebSocket.OPEN) socket.close(code, reason)
  if (socket.readyState === WebSocket.CONNECTING) return socket.terminate()
  const timer = setTimeout(() => socket.terminate(), closeGraceMs)
  timer.unref()
  socket.once("close", () => clearTimeout(timer))
}
