import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import { type RawData, WebSocket, type WebSocketServer } from "ws"
import type { AccountState } from "./Accounts.ts"
import { answerFor, type Ctx } from "./Context.ts"
import { unauthorizedBody } from "./ErrorBodies.ts"
import { arrayField, isRecord, parseJson, stringField } from "./Json.ts"
import type { MutableRecord } from "./Recorder.ts"

export const REALTIME_PATH = "/v1/realtime"

const send = (ws: WebSocket, frame: unknown) => {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame))
}

const rawText = (data: RawData): string =>
  (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)).toString("utf8")

// The text of a conversation.item.create: its item's content parts' text.
const itemText = (frame: unknown) =>
  (arrayField(isRecord(frame) ? frame["item"] : undefined, "content") ?? [])
    .flatMap((part) => stringField(part, "text") ?? [])
    .join(" ")

// What the realtime backend answers (codex-api realtime_websocket, parser v1): session.update → session.updated with
// the session's id and instructions; a text item → the assistant's transcript, delta then done. Binary frames are not
// part of the protocol: an error event.
const onFrame = (ctx: Ctx, ws: WebSocket, account: AccountState, id: number, data: RawData, isBinary: boolean) => {
  const text = rawText(data)
  const parsed = isBinary ? undefined : parseJson(text)
  ctx.recorder.record({
    kind: "ws-in",
    method: "WS",
    path: REALTIME_PATH,
    query: {},
    headers: {},
    ...(parsed?.ok === true ? { body: parsed.value } : { rawBody: text }),
    connection: id,
    accountId: account.accountId
  })
  if (isBinary) {
    return send(ws, {
      type: "error",
      error: { type: "invalid_request_error", code: "binary_frame", message: "send JSON text events" }
    })
  }
  const frame = parsed?.ok === true ? parsed.value : undefined
  const type = stringField(frame, "type")
  if (type === "session.update") {
    const session = isRecord(frame) ? frame["session"] : undefined
    send(ws, {
      type: "session.updated",
      session: { id: `sess_fake_${id}`, instructions: stringField(session, "instructions") ?? null }
    })
  }
  if (type === "conversation.item.create" && itemText(frame) !== "") {
    const answer = answerFor(ctx, account)
    send(ws, { type: "conversation.output_transcript.delta", delta: answer })
    send(ws, { type: "conversation.output_transcript.done", text: answer })
  }
}

// The sideband of a voice call: `GET /v1/realtime?call_id=…` with the bearer and ChatGPT-Account-ID of the account
// that made the call (401 for no known account, 404 for a call that account did not make — what a join on the wrong
// account gets). The upgrade is recorded like any other (its account, path and query), so tests see where a join went.
export const joinRealtime = (
  ctx: Ctx,
  wss: WebSocketServer,
  upgrade: { readonly req: IncomingMessage; readonly socket: Duplex; readonly head: Buffer },
  rec: MutableRecord,
  refuse: (status: number, body: unknown) => void
): void => {
  const auth = ctx.accounts.authenticate(rec.headers["authorization"], rec.headers["chatgpt-account-id"])
  if (!auth.ok) return refuse(401, unauthorizedBody(auth.message))
  const account = auth.account
  rec.accountId = account.accountId
  const callId = rec.query["call_id"]
  if (callId === undefined || ctx.calls.get(callId) !== account.accountId) {
    return refuse(404, { error: { type: "invalid_request_error", code: "call_not_found", message: "no such call" } })
  }
  const id = ctx.nextId()
  wss.handleUpgrade(upgrade.req, upgrade.socket, upgrade.head, (ws) => {
    rec.status = 101
    rec.connection = id
    ctx.sockets.add(ws)
    ws.on("message", (data, isBinary) => onFrame(ctx, ws, account, id, data, isBinary))
    ws.on("error", () => ws.terminate())
    ws.on("close", () => ctx.sockets.delete(ws))
  })
}
