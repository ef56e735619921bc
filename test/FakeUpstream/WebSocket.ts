import { type IncomingMessage, STATUS_CODES } from "node:http"
import type { Duplex } from "node:stream"
import { WebSocketServer } from "ws"
import type { Ctx } from "./Context.ts"
import { statusFaultAnswer, unauthorizedBody } from "./ErrorBodies.ts"
import { isStatusFault } from "./Faults.ts"
import { flatHeaders, parseUrl } from "./HttpUtil.ts"
import { joinRealtime, REALTIME_PATH } from "./Realtime.ts"
import { serveConnection } from "./WsConnection.ts"

const RESPONSES_PATH = "/backend-api/codex/responses"

const reject = (socket: Duplex, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  const text = JSON.stringify(body)
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
    "content-type: application/json",
    `content-length: ${Buffer.byteLength(text)}`,
    "connection: close",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  ]
  socket.end(`${lines.join("\r\n")}\r\n\r\n${text}`)
}

export interface UpgradeHandler {
  readonly handle: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  readonly wss: WebSocketServer
}

export const makeUpgradeHandler = (ctx: Ctx): UpgradeHandler => {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true })
  const extraHeaders = new WeakMap<IncomingMessage, ReadonlyArray<string>>()
  wss.on("headers", (headers, req) => headers.push(...(extraHeaders.get(req) ?? [])))

  const handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy())
    const { path, query } = parseUrl(req.url)
    const headers = flatHeaders(req.headers)
    const rec = ctx.recorder.record({ kind: "ws-upgrade", method: req.method ?? "GET", path, query, headers })
    const refuse = (status: number, body: unknown, extra?: Record<string, string>) => {
      rec.status = status
      reject(socket, status, body, extra)
    }
    if (path === REALTIME_PATH) return joinRealtime(ctx, wss, { req, socket, head }, rec, refuse)
    if (path !== RESPONSES_PATH) return refuse(404, { error: { message: "Not Found", code: "not_found" } })
    if (!/responses_websockets=/.test(headers["openai-beta"] ?? "")) {
      const message = "OpenAI-Beta: responses_websockets=… header required"
      return refuse(400, { error: { message, code: "invalid_request" } })
    }
    const auth = ctx.accounts.authenticate(headers["authorization"], headers["chatgpt-account-id"])
    if (!auth.ok) return refuse(401, unauthorizedBody(auth.message))
    const account = auth.account
    rec.accountId = account.accountId
    const fault = ctx.faults.take(account.accountId, "ws-upgrade")
    if (fault !== undefined) {
      rec.fault = fault.kind
      if (fault.kind === "ws_426") {
        return refuse(426, { error: { message: "Upgrade Required", code: "websockets_not_supported" } })
      }
      if (fault.kind === "ws_404") return refuse(404, { error: { message: "Not Found", code: "not_found" } })
      if (isStatusFault(fault)) {
        const answer = statusFaultAnswer(fault, account)
        return refuse(answer.status, answer.body, answer.headers)
      }
    }
    const n = ctx.nextId()
    extraHeaders.set(req, [
      `x-codex-turn-state: ${headers["x-codex-turn-state"] ?? `fake-turn-state-${n}`}`,
      `x-models-etag: ${ctx.settings.modelsEtag}`,
      `openai-model: gpt-5.5`,
      `x-request-id: req_fake_${n}`
    ])
    wss.handleUpgrade(req, socket, head, (ws) => {
      rec.status = 101
      rec.connection = n
      serveConnection(ctx, ws, account, path, n)
    })
  }
  return { handle, wss }
}
