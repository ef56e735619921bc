import type { IncomingMessage, ServerResponse } from "node:http"
import type { AccountState } from "./Accounts.ts"
import { answerFor, type Ctx, usageFor } from "./Context.ts"
import { invalidRequest, previousResponseNotFound, statusFaultAnswer } from "./ErrorBodies.ts"
import { isStatusFault, isStreamFault } from "./Faults.ts"
import { sendJson } from "./HttpUtil.ts"
import { arrayField, type JsonObject, stringField } from "./Json.ts"
import { type EventSink, play } from "./Playback.ts"
import { rateLimitHeaders } from "./RateLimits.ts"
import type { MutableRecord } from "./Recorder.ts"
import { planResponse } from "./Responses.ts"

export const sseFrame = (event: JsonObject): string =>
  `event: ${String(event["type"])}\ndata: ${JSON.stringify(event)}\n\n`

const httpSink = (res: ServerResponse, rec: MutableRecord): EventSink => {
  let gone = false
  const goneP = new Promise<void>((resolve) => {
    res.on("close", () => {
      gone = !res.writableFinished
      resolve()
    })
  })
  return {
    send: (event) => {
      const frame = sseFrame(event)
      rec.sentBody = (rec.sentBody ?? "") + frame
      return new Promise((resolve) => res.write(frame, () => resolve()))
    },
    destroy: () => res.socket?.destroy(),
    gone: goneP,
    isGone: () => gone || res.destroyed
  }
}

const successHeaders = (ctx: Ctx, account: AccountState, model: string, turnState: string, n: number) => ({
  ...rateLimitHeaders(account.rateLimits, account.plan),
  "openai-model": model,
  "x-models-etag": ctx.settings.modelsEtag,
  "x-codex-turn-state": turnState,
  "x-request-id": `req_fake_${n}`
})

export const handleResponses = async (
  ctx: Ctx,
  req: IncomingMessage,
  res: ServerResponse,
  rec: MutableRecord,
  body: unknown,
  account: AccountState
): Promise<void> => {
  const model = stringField(body, "model")
  const input = arrayField(body, "input")
  if (model === undefined || input === undefined) {
    return sendJson(res, 400, invalidRequest("body must be a JSON object with model and input[]"))
  }
  const previous = stringField(body, "previous_response_id")
  // store:false over HTTP means nothing is kept server side, so a previous id can never resolve here
  if (previous !== undefined) return sendJson(res, 400, { error: previousResponseNotFound(previous).error })
  const n = ctx.nextId()
  const fault = ctx.faults.take(account.accountId, "responses")
  if (fault !== undefined) rec.fault = fault.kind
  if (fault?.kind === "connection_reset") {
    req.socket.destroy()
    return
  }
  if (fault !== undefined && isStatusFault(fault)) {
    const answer = statusFaultAnswer(fault, account)
    return sendJson(res, answer.status, answer.body, { ...answer.headers, "x-request-id": `req_fake_${n}` })
  }
  const streamFault = fault !== undefined && isStreamFault(fault) ? fault : undefined
  const clientTurnState = req.headers["x-codex-turn-state"]
  const turnState = typeof clientTurnState === "string" ? clientTurnState : `fake-turn-state-${n}`
  const plan = planResponse({
    n,
    model,
    input,
    generate: true,
    answer: answerFor(ctx, account),
    usage: usageFor(ctx, account),
    accountId: account.accountId,
    fault: streamFault
  })
  rec.responseId = plan.responseId
  rec.status = 200
  res.writeHead(200, {
    ...successHeaders(ctx, account, model, turnState, n),
    "content-type": "text/event-stream",
    "cache-control": "no-cache"
  })
  res.flushHeaders()
  const result = await play(plan.events, httpSink(res, rec), streamFault, ctx.settings.eventDelayMs)
  if (result === "aborted" && !ctx.closing) ctx.recorder.abort()
  if (result === "completed") res.end()
}
