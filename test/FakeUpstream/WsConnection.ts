import { type RawData, WebSocket } from "ws"
import type { AccountState } from "./Accounts.ts"
import { answerFor, type Ctx, usageFor } from "./Context.ts"
import { connectionLimitFrame, previousResponseNotFound, statusFaultAnswer } from "./ErrorBodies.ts"
import { isStatusFault, isStreamFault } from "./Faults.ts"
import { arrayField, isRecord, parseJson, stringField } from "./Json.ts"
import { type EventSink, play } from "./Playback.ts"
import { rateLimitsFrame } from "./RateLimits.ts"
import { planResponse } from "./Responses.ts"

const wsSink = (ws: WebSocket): EventSink => {
  const gone = new Promise<void>((resolve) => {
    if (ws.readyState !== WebSocket.OPEN) resolve()
    ws.once("close", () => resolve())
  })
  return {
    send: (event) =>
      new Promise((resolve) => {
        if (ws.readyState !== WebSocket.OPEN) return resolve()
        ws.send(JSON.stringify(event), () => resolve())
      }),
    destroy: () => ws.terminate(),
    gone,
    isGone: () => ws.readyState !== WebSocket.OPEN
  }
}

interface Connection {
  readonly id: number
  readonly path: string
  readonly ws: WebSocket
  readonly account: AccountState
  // response id → full context (input + output items) so previous_response_id + delta input resolves
  readonly responses: Map<string, ReadonlyArray<unknown>>
}

const sendJson = (ws: WebSocket, frame: unknown): Promise<void> =>
  new Promise((resolve) => {
    if (ws.readyState !== WebSocket.OPEN) return resolve()
    ws.send(JSON.stringify(frame), () => resolve())
  })

const rawText = (data: RawData): string =>
  (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)).toString("utf8")

const invalidFrame = {
  type: "error",
  status: 400,
  error: { type: "invalid_request_error", code: "invalid_request", message: "response.create needs model and input[]" }
}

const onFrame = async (ctx: Ctx, conn: Connection, data: RawData, isBinary: boolean): Promise<void> => {
  const text = rawText(data)
  const parsed = isBinary ? undefined : parseJson(text)
  const rec = ctx.recorder.record({
    kind: "ws-in",
    method: "WS",
    path: conn.path,
    query: {},
    headers: {},
    ...(parsed?.ok === true ? { body: parsed.value } : { rawBody: text }),
    connection: conn.id,
    accountId: conn.account.accountId
  })
  const frame = parsed?.ok === true ? parsed.value : undefined
  if (!isRecord(frame) || frame["type"] !== "response.create") return
  const model = stringField(frame, "model")
  const delta = arrayField(frame, "input")
  if (model === undefined || delta === undefined) return sendJson(conn.ws, invalidFrame)
  const fault = ctx.faults.take(conn.account.accountId, "ws-frame")
  if (fault !== undefined) rec.fault = fault.kind
  if (fault !== undefined && isStatusFault(fault)) {
    const answer = statusFaultAnswer(fault, conn.account)
    const { status, body, headers } = answer
    return sendJson(conn.ws, { type: "error", status, error: body.error, headers })
  }
  if (fault?.kind === "flood") {
    // Fire and forget: the frames pile up in this socket's buffer if the other side does not read them.
    const delta = "x".repeat(fault.bytes)
    for (let index = 0; index < fault.frames; index++) {
      conn.ws.send(
        JSON.stringify({
          type: "response.output_text.delta",
          item_id: "msg_flood",
          output_index: 0,
          content_index: 0,
          delta
        })
      )
    }
    conn.ws.send(
      JSON.stringify({
        type: "response.completed",
        response: { id: `resp_flood_${ctx.nextId()}`, usage: usageFor(ctx, conn.account) }
      })
    )
    return
  }
  if (fault?.kind === "ws_connection_limit") {
    await sendJson(conn.ws, connectionLimitFrame)
    return conn.ws.close(1000, "connection limit reached")
  }
  const previousId = stringField(frame, "previous_response_id")
  const previous = previousId === undefined ? [] : conn.responses.get(previousId)
  if (previous === undefined) return sendJson(conn.ws, { type: "error", ...previousResponseNotFound(previousId ?? "") })
  const input = [...previous, ...delta]
  rec.resolvedInput = input
  await sendJson(conn.ws, rateLimitsFrame(conn.account.rateLimits, conn.account.plan))
  const streamFault = fault !== undefined && isStreamFault(fault) ? fault : undefined
  const plan = planResponse({
    n: ctx.nextId(),
    model,
    input,
    generate: frame["generate"] !== false,
    answer: answerFor(ctx, conn.account),
    usage: usageFor(ctx, conn.account),
    accountId: conn.account.accountId,
    fault: streamFault
  })
  rec.responseId = plan.responseId
  const result = await play(plan.events, wsSink(conn.ws), streamFault, ctx.settings.eventDelayMs)
  if (result === "aborted" && !ctx.closing) ctx.recorder.abort()
  const finished = plan.events.at(-1)?.["type"] === "response.completed"
  if (result === "completed" && finished) conn.responses.set(plan.responseId, [...input, ...plan.output])
}

export const serveConnection = (ctx: Ctx, ws: WebSocket, account: AccountState, path: string, id: number): void => {
  ctx.sockets.add(ws)
  const conn: Connection = { id, path, ws, account, responses: new Map() }
  let chain = Promise.resolve()
  ws.on("message", (data, isBinary) => {
    chain = chain.then(() => onFrame(ctx, conn, data, isBinary)).catch((error: unknown) =>
      sendJson(ws, { type: "error", status: 500, error: { type: "server_error", message: String(error) } })
    )
  })
  ws.on("error", () => ws.terminate())
  ws.on("close", () => ctx.sockets.delete(ws))
}
