import type { IncomingMessage, ServerResponse } from "node:http"
import { handleAdmin } from "./Admin.ts"
import { handleRevoke, handleToken } from "./Auth.ts"
import { handleAuthorize } from "./Authorize.ts"
import type { Ctx } from "./Context.ts"
import { handleDeviceToken, handleUserCode } from "./DeviceAuth.ts"
import { invalidRequest, unauthorizedBody } from "./ErrorBodies.ts"
import { decodeBody, flatHeaders, parseUrl, readBody, sendJson, UnsupportedEncoding } from "./HttpUtil.ts"
import { parseJson } from "./Json.ts"
import type { MutableRecord } from "./Recorder.ts"
import {
  handleAccountsCheck,
  handleCompact,
  handleImages,
  handleModels,
  handleRealtimeCall,
  handleResetCreditConsume,
  handleResetCreditList,
  handleSearch,
  handleUsage
} from "./Routes.ts"
import { handleResponses } from "./Sse.ts"

const CODEX = "/backend-api/codex"

const backendRoutes = new Set([
  `POST ${CODEX}/responses`,
  `POST ${CODEX}/responses/compact`,
  `GET ${CODEX}/models`,
  `POST ${CODEX}/realtime/calls`,
  `POST ${CODEX}/images/generations`,
  `POST ${CODEX}/images/edits`,
  `POST ${CODEX}/alpha/search`,
  "GET /backend-api/wham/accounts/check",
  "GET /backend-api/wham/usage",
  "GET /backend-api/wham/rate-limit-reset-credits",
  "POST /backend-api/wham/rate-limit-reset-credits/consume"
])

// the auth server's routes, none of which takes a bearer
const authRoutes = new Map<string, (ctx: Ctx, res: ServerResponse, body: unknown, rec: MutableRecord) => void>([
  ["GET /oauth/authorize", (ctx, res, _body, rec) => handleAuthorize(ctx, res, rec.query)],
  ["POST /oauth/token", handleToken],
  ["POST /oauth/revoke", handleRevoke],
  ["POST /api/accounts/deviceauth/usercode", handleUserCode],
  ["POST /api/accounts/deviceauth/token", handleDeviceToken]
])

// Codex's sign-in code exchange posts a form (recorded as the rawBody it is)
const formBody = (rec: MutableRecord) =>
  rec.rawBody !== undefined && (rec.headers["content-type"] ?? "").includes("application/x-www-form-urlencoded")
    ? Object.fromEntries(new URLSearchParams(rec.rawBody))
    : undefined

const notFound = (res: ServerResponse) => sendJson(res, 404, { error: { message: "Not Found", code: "not_found" } })

const route = async (ctx: Ctx, req: IncomingMessage, res: ServerResponse, rec: MutableRecord, body: unknown) => {
  const key = `${rec.method} ${rec.path}`
  const authRoute = authRoutes.get(key)
  if (authRoute !== undefined) return authRoute(ctx, res, formBody(rec) ?? body, rec)
  if (!backendRoutes.has(key)) return notFound(res)
  const auth = ctx.accounts.authenticate(rec.headers["authorization"], rec.headers["chatgpt-account-id"])
  if (!auth.ok) return sendJson(res, 401, unauthorizedBody(auth.message))
  rec.accountId = auth.account.accountId
  switch (key) {
    case `POST ${CODEX}/responses`:
      return handleResponses(ctx, req, res, rec, body, auth.account)
    case `POST ${CODEX}/responses/compact`:
      return handleCompact(ctx, res, rec, body, auth.account)
    case `GET ${CODEX}/models`:
      return handleModels(ctx, req, res)
    case `POST ${CODEX}/realtime/calls`:
      return handleRealtimeCall(ctx, res, auth.account)
    case `POST ${CODEX}/images/generations`:
      return handleImages(ctx, res, rec, body, auth.account, false)
    case `POST ${CODEX}/images/edits`:
      return handleImages(ctx, res, rec, body, auth.account, true)
    case `POST ${CODEX}/alpha/search`:
      return handleSearch(ctx, res, rec, body, auth.account)
    case "GET /backend-api/wham/usage":
      return handleUsage(ctx, res, rec, auth.account)
    case "GET /backend-api/wham/rate-limit-reset-credits":
      return handleResetCreditList(ctx, res, rec, auth.account)
    case "POST /backend-api/wham/rate-limit-reset-credits/consume":
      return handleResetCreditConsume(ctx, res, rec, body, auth.account)
    default:
      return handleAccountsCheck(res, auth.account)
  }
}

interface Decoded {
  readonly body?: unknown
  readonly rawBody?: string
}

const decodeRequest = async (req: IncomingMessage): Promise<Decoded> => {
  const raw = await readBody(req)
  const text = (await decodeBody(raw, req.headers["content-encoding"])).toString("utf8")
  if (text === "") return {}
  const parsed = parseJson(text)
  return parsed.ok ? { body: parsed.value } : { rawBody: text }
}

const asError = (error: unknown): Error => error instanceof Error ? error : new Error(String(error))

export const handleRequest = async (ctx: Ctx, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const method = req.method ?? "GET"
  const { path, query } = parseUrl(req.url)
  const decoded = await decodeRequest(req).catch(asError)
  if (path.startsWith("/__fake/")) {
    return handleAdmin(ctx, res, method, path, query, decoded instanceof Error ? undefined : decoded.body)
  }
  const headers = flatHeaders(req.headers)
  const body = decoded instanceof Error ? {} : decoded
  const rec = ctx.recorder.record({ kind: "http", method, path, query, headers, ...body })
  try {
    if (decoded instanceof Error) {
      const status = decoded instanceof UnsupportedEncoding ? 415 : 400
      return sendJson(res, status, invalidRequest(`could not decode request body: ${decoded.message}`))
    }
    const isJson = (headers["content-type"] ?? "").includes("json")
    if (isJson && decoded.rawBody !== undefined) return sendJson(res, 400, invalidRequest("malformed JSON body"))
    await route(ctx, req, res, rec, decoded.body)
  } finally {
    rec.status = res.statusCode
  }
}
