import { readFileSync } from "node:fs"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { AccountState } from "./Accounts.ts"
import { type Ctx, usageFor } from "./Context.ts"
import { invalidRequest, statusFaultAnswer } from "./ErrorBodies.ts"
import { isStatusFault } from "./Faults.ts"
import { sendJson } from "./HttpUtil.ts"
import { compactionEvents, retainedUserMessages } from "./Items.ts"
import { arrayField } from "./Json.ts"
import { usagePayload } from "./RateLimits.ts"
import type { MutableRecord } from "./Recorder.ts"
import { usageJson } from "./Responses.ts"

const modelsCatalog: unknown = JSON.parse(readFileSync(new URL("./models.json", import.meta.url), "utf8"))

export const handleModels = (ctx: Ctx, req: IncomingMessage, res: ServerResponse): void => {
  const etag = ctx.settings.modelsEtag
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, { etag })
    res.end()
    return
  }
  sendJson(res, 200, { models: modelsCatalog }, { etag, "x-models-etag": etag })
}

export const handleCompact = (
  ctx: Ctx,
  res: ServerResponse,
  rec: MutableRecord,
  body: unknown,
  account: AccountState
): void => {
  const input = arrayField(body, "input")
  if (input === undefined) return sendJson(res, 400, invalidRequest("body must be a JSON object with input[]"))
  const fault = ctx.faults.take(account.accountId, "compact")
  if (fault !== undefined) rec.fault = fault.kind
  const n = ctx.nextId()
  if (fault !== undefined && isStatusFault(fault)) {
    const answer = statusFaultAnswer(fault, account)
    return sendJson(res, answer.status, answer.body, { ...answer.headers, "x-request-id": `req_fake_${n}` })
  }
  const { item } = compactionEvents(n, account.accountId)
  const usage = usageJson(usageFor(ctx, account))
  sendJson(res, 200, { output: [...retainedUserMessages(input), item], usage }, { "x-request-id": `req_fake_${n}` })
}

const sdpAnswer = [
  "v=0",
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "c=IN IP4 0.0.0.0",
  "a=mid:0",
  "a=sendrecv",
  "a=rtpmap:111 opus/48000/2",
  ""
].join("\r\n")

export const handleRealtimeCall = (ctx: Ctx, res: ServerResponse): void => {
  const callId = `rtc_fake_${ctx.nextId()}`
  res.writeHead(201, {
    "content-type": "application/sdp",
    location: `/v1/realtime/calls/${callId}`,
    "content-length": String(Buffer.byteLength(sdpAnswer))
  })
  res.end(sdpAnswer)
}

export const handleAccountsCheck = (res: ServerResponse, account: AccountState): void =>
  sendJson(res, 200, {
    accounts: [
      {
        id: account.accountId,
        plan_type: account.plan,
        workspace_backend_origin: "NO_CONSTRAINT",
        account_routing_override: "NO_CONSTRAINT",
        name: null,
        profile_picture_url: null,
        structure: "personal"
      }
    ],
    account_ordering: [account.accountId],
    default_account_id: account.accountId
  })

// What Codex's `/status` reads (backend-client `get_rate_limits`): the account's windows, whether it may go on, and
// its credits. A queued status fault (e.g. `unauthorized`, `http_500`) answers instead.
export const handleUsage = (ctx: Ctx, res: ServerResponse, rec: MutableRecord, account: AccountState): void => {
  const fault = ctx.faults.take(account.accountId, "usage")
  if (fault !== undefined && isStatusFault(fault)) {
    rec.fault = fault.kind
    const answer = statusFaultAnswer(fault, account)
    return sendJson(res, answer.status, answer.body, answer.headers)
  }
  sendJson(res, 200, usagePayload(account))
}
