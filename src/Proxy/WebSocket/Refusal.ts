import { STATUS_CODES } from "node:http"
import type { Duplex } from "node:stream"
import { errorAnswer, type ProxyError } from "../ErrorResponse.ts"
import { relayResponseHeaders } from "../Headers.ts"
import type { UpgradeRefused } from "./Upstream.ts"

// An upgrade refused with a plain HTTP answer, written on the raw socket (the router never sees an upgrade).
const writeAnswer = (socket: Duplex, status: number, headers: Readonly<Record<string, string>>, body: Buffer) => {
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    `content-length: ${body.length}`,
    "connection: close"
  ]
  socket.end(Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`), body]))
}

// The gateway's own refusal, in Codex's error shape; answers it for the metrics.
export const refuse = (socket: Duplex, error: ProxyError) => {
  const answer = errorAnswer(error)
  writeAnswer(
    socket,
    answer.status,
    { ...answer.headers, "content-type": "application/json" },
    Buffer.from(JSON.stringify(answer.body))
  )
  return answer
}

// Upstream's refusal of the upgrade, relayed as it came (with the headers Codex reads).
export const relayRefusal = (socket: Duplex, refused: UpgradeRefused) => {
  const { "content-type": contentType, ...headers } = relayResponseHeaders(refused.headers)
  writeAnswer(socket, refused.status, { ...headers, "content-type": contentType ?? "application/json" }, refused.body)
}
