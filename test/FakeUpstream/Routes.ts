import { readFileSync } from "node:fs"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { AccountState } from "./Accounts.ts"
import { type Ctx, usageFor } from "./Context.ts"
import { invalidRequest, statusFaultAnswer } from "./ErrorBodies.ts"
import { isStatusFault, type Stage } from "./Faults.ts"
import { sendJson } from "./HttpUtil.ts"
import { compactionEvents, retainedUserMessages } from "./Items.ts"
import { arrayField, isRecord, stringField } from "./Json.ts"
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

// A route that reads the request's JSON body, for an authenticated account.
type BodyHandler = (ctx: Ctx, res: ServerResponse, rec: MutableRecord, body: unknown, account: AccountState) => void

// A queued fault for this stage: a status fault is the answer (true); any other is only recorded.
const answeredByFault = (ctx: Ctx, res: ServerResponse, rec: MutableRecord, account: AccountState, stage: Stage) => {
  const fault = ctx.faults.take(account.accountId, stage)
  if (fault === undefined) return false
  rec.fault = fault.kind
  if (!isStatusFault(fault)) return false
  const answer = statusFaultAnswer(fault, account)
  sendJson(res, answer.status, answer.body, { ...answer.headers, "x-request-id": `req_fake_${ctx.nextId()}` })
  return true
}

export const handleCompact: BodyHandler = (ctx, res, rec, body, account) => {
  const input = arrayField(body, "input")
  if (input === undefined) return sendJson(res, 400, invalidRequest("body must be a JSON object with input[]"))
  if (answeredByFault(ctx, res, rec, account, "compact")) return
  const n = ctx.nextId()
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

// A call belongs to the account that made it: only that account can join its sideband (Realtime.ts).
export const handleRealtimeCall = (ctx: Ctx, res: ServerResponse, account: AccountState): void => {
  const callId = `rtc_fake_${ctx.nextId()}`
  ctx.calls.set(callId, account.accountId)
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

// A 1×1 PNG: what the image routes answer with.
const onePixelPng = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

// POST images/generations and images/edits (codex-api images.rs, ImagesClient): JSON, not multipart. A generation
// names a prompt and a model; an edit adds 1 to 5 images as data URLs. The answer is {created, data: [{b64_json}]},
// with the options echoed.
export const handleImages = (
  ctx: Ctx,
  res: ServerResponse,
  rec: MutableRecord,
  body: unknown,
  account: AccountState,
  edit: boolean
): void => {
  const prompt = stringField(body, "prompt")
  const model = stringField(body, "model")
  if (prompt === undefined || prompt === "" || model === undefined) {
    return sendJson(res, 400, invalidRequest("an image request needs a prompt and a model"))
  }
  if (edit) {
    const images = arrayField(body, "images") ?? []
    const valid = images.every((image) => (stringField(image, "image_url") ?? "").startsWith("data:"))
    if (images.length < 1 || images.length > 5 || !valid) {
      return sendJson(res, 400, invalidRequest("an edit takes 1 to 5 images as {image_url: data URL}"))
    }
  }
  if (answeredByFault(ctx, res, rec, account, "tool")) return
  const options = isRecord(body)
    ? Object.fromEntries(["background", "quality", "size"].flatMap((name) => name in body ? [[name, body[name]]] : []))
    : {}
  sendJson(res, 200, {
    created: Math.floor(Date.now() / 1000),
    data: [{ b64_json: onePixelPng }],
    ...options
  }, { "x-request-id": `req_fake_${ctx.nextId()}` })
}

// POST alpha/search (codex-api search.rs, SearchClient): the thread id and the turn's model, with the commands to run.
// The answer's `output` is what reaches the model; `encrypted_output` may be null.
export const handleSearch: BodyHandler = (ctx, res, rec, body, account) => {
  const id = stringField(body, "id")
  if (id === undefined || id === "" || stringField(body, "model") === undefined) {
    return sendJson(res, 400, invalidRequest("a search needs the thread id and a model"))
  }
  if (answeredByFault(ctx, res, rec, account, "tool")) return
  const commands = isRecord(body) && isRecord(body["commands"]) ? body["commands"] : {}
  const queries = (arrayField(commands, "search_query") ?? []).flatMap((query) => {
    const q = stringField(query, "q")
    return q === undefined ? [] : [q]
  })
  sendJson(res, 200, {
    encrypted_output: null,
    output: `Search results for ${queries.map((q) => JSON.stringify(q)).join(", ") || "nothing"}: ` +
      "【0†Codex Pooler†127.0.0.1】 a fake result.",
    results: []
  }, { "x-request-id": `req_fake_${ctx.nextId()}` })
}

const isoSeconds = (seconds: number) => new Date(seconds * 1000).toISOString()

// GET /backend-api/wham/rate-limit-reset-credits (backend-client's RateLimitResetCreditsDetails): the account's saved
// resets, each one an available credit.
export const handleResetCreditList = (ctx: Ctx, res: ServerResponse, rec: MutableRecord, account: AccountState) => {
  if (answeredByFault(ctx, res, rec, account, "reset-credits")) return
  const count = account.rateLimits.resetCredits ?? 0
  const now = Math.floor(Date.now() / 1000)
  sendJson(res, 200, {
    available_count: count,
    credits: Array.from({ length: count }, (_, i) => ({
      id: `RateLimitResetCredit_${account.accountId}_${i + 1}`,
      reset_type: "codex_rate_limits",
      status: "available",
      granted_at: isoSeconds(now - 86_400),
      expires_at: isoSeconds(now + 30 * 86_400),
      title: "Full reset (Weekly + 5 hr)"
    }))
  })
}

// POST /backend-api/wham/rate-limit-reset-credits/consume {redeem_request_id, credit_id?} → {code, windows_reset}:
// a saved reset empties the account's full windows; the same redeem_request_id again answers already_redeemed.
export const handleResetCreditConsume = async (
  ctx: Ctx,
  res: ServerResponse,
  rec: MutableRecord,
  body: unknown,
  account: AccountState
) => {
  const requestId = stringField(body, "redeem_request_id")
  if (requestId === undefined || requestId === "") {
    return sendJson(res, 400, invalidRequest("a redemption needs a redeem_request_id"))
  }
  const fault = ctx.faults.take(account.accountId, "reset-credits")
  if (fault !== undefined) {
    rec.fault = fault.kind
    if (isStatusFault(fault)) {
      const answer = statusFaultAnswer(fault, account)
      return sendJson(res, answer.status, answer.body, answer.headers)
    }
    if (fault.kind === "stall") await (fault.until ?? new Promise((resolve) => setTimeout(resolve, fault.ms ?? 0)))
  }
  const earlier = account.redemptions.get(requestId)
  if (earlier !== undefined) return sendJson(res, 200, { code: "already_redeemed", windows_reset: earlier })
  const limits = account.rateLimits
  if ((limits.resetCredits ?? 0) === 0) return sendJson(res, 200, { code: "no_credit", windows_reset: 0 })
  const full = [limits.primaryUsedPercent >= 100, limits.secondaryUsedPercent >= 100]
  const windowsReset = full.filter(Boolean).length
  if (windowsReset === 0) return sendJson(res, 200, { code: "nothing_to_reset", windows_reset: 0 })
  account.rateLimits = {
    ...limits,
    primaryUsedPercent: full[0] ? 0 : limits.primaryUsedPercent,
    secondaryUsedPercent: full[1] ? 0 : limits.secondaryUsedPercent,
    resetCredits: (limits.resetCredits ?? 0) - 1
  }
  account.redemptions.set(requestId, windowsReset)
  sendJson(res, 200, { code: "reset", windows_reset: windowsReset })
}
