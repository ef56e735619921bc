import type { ServerResponse } from "node:http"
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

export const handleRefresh = (ctx: Ctx, res: ServerResponse, body: unknown): void => {
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
  const owner = ctx.accounts.ownerOfRefreshToken(refreshToken)
  const current = owner !== undefined && owner.refreshToken === refreshToken
  if (current && ctx.faults.take(owner.accountId, "refresh") !== undefined) {
    return fail("refresh_token_expired", owner.accountId)
  }
  const result = ctx.accounts.refresh(refreshToken)
  if (result.outcome !== "ok" || result.account === undefined) return fail(result.outcome, result.account?.accountId)
  record("ok", result.account.accountId)
  sendJson(res, 200, {
    id_token: result.account.idToken,
    access_token: result.account.accessToken,
    refresh_token: result.account.refreshToken
  })
}
