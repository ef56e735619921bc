import type { ServerResponse } from "node:http"
import { handleCodeExchange, refuseTokenExchange, TOKEN_EXCHANGE } from "./CodeExchange.ts"
import type { Ctx } from "./Context.ts"
import { sendJson } from "./HttpUtil.ts"
import { stringField } from "./Json.ts"
import { CLIENT_ID } from "./Tokens.ts"

const refreshErrors: Record<string, string> = {
  refresh_token_expired: "Your refresh token has expired. Please try signing in again.",
  refresh_token_reused:
    "Your refresh token has already been used to generate a new access token. Please try signing in again.",
  refresh_token_invalidated: "Your refresh token has been invalidated. Please try signing in again."
}

const handleRefresh = (ctx: Ctx, res: ServerResponse, body: unknown): void => {
  const refreshToken = stringField(body, "refresh_token")
  const reason = stringField(body, "refresh_reason")
  const record = (outcome: string, accountId?: string) =>
    ctx.recorder.refresh({
      refreshToken: refreshToken ?? "",
      outcome,
      ...(reason === undefined ? {} : { reason }),
      ...(accountId === undefined ? {} : { accountId })
    })
  const badRequest = (error: string, description: string) => {
    record(error)
    sendJson(res, 400, { error, error_description: description })
  }
  if (stringField(body, "client_id") !== CLIENT_ID) return badRequest("invalid_client", "Unknown client_id")
  if (stringField(body, "grant_type") !== "refresh_token") {
    return badRequest("unsupported_grant_type", "grant_type must be refresh_token")
  }
  if (refreshToken === undefined || refreshToken === "") {
    return badRequest("invalid_request", "refresh_token is required")
  }
  const fail = (code: string, accountId?: string) => {
    record(code, accountId)
    sendJson(res, 401, { error: { code, message: refreshErrors[code] ?? code, type: "invalid_request_error" } })
  }
  const owner = ctx.accounts.lineageOfRefreshToken(refreshToken)
  const current = owner !== undefined && !owner.revoked && owner.refreshToken === refreshToken
  if (current && ctx.faults.take(owner.accountId, "refresh") !== undefined) {
    return fail("refresh_token_expired", owner.accountId)
  }
  const result = ctx.accounts.refresh(refreshToken)
  if (result.outcome !== "ok") return fail(result.outcome, result.account?.accountId)
  record("ok", result.account.accountId)
  const { lineage } = result
  sendJson(res, 200, {
    id_token: lineage.idToken,
    access_token: lineage.accessToken,
    refresh_token: lineage.refreshToken
  })
}

// POST /oauth/revoke {token, token_type_hint, client_id?} (Codex's revoke.rs after a new sign-in and on logout)
export const handleRevoke = (ctx: Ctx, res: ServerResponse, body: unknown): void => {
  const token = stringField(body, "token")
  const clientId = stringField(body, "client_id")
  if (token === undefined || token === "") {
    return sendJson(res, 400, { error: "invalid_request", error_description: "token is required" })
  }
  if (clientId !== undefined && clientId !== CLIENT_ID) {
    return sendJson(res, 400, { error: "invalid_client", error_description: "Unknown client_id" })
  }
  ctx.accounts.revoke(token)
  sendJson(res, 200, {})
}

// POST /oauth/token: Codex refreshes with JSON and exchanges sign-in codes with a form (Router decodes both).
export const handleToken = (ctx: Ctx, res: ServerResponse, body: unknown): void => {
  const grant = stringField(body, "grant_type")
  if (grant === "authorization_code") return handleCodeExchange(ctx, res, body)
  if (grant === TOKEN_EXCHANGE) return refuseTokenExchange(ctx, res)
  handleRefresh(ctx, res, body)
}
