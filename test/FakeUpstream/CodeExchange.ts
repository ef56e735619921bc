import type { ServerResponse } from "node:http"
import type { Ctx } from "./Context.ts"
import { sendJson } from "./HttpUtil.ts"
import { stringField } from "./Json.ts"

export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"

// The API-key exchange Codex's browser flow tries after signing in: it ignores a failure, so the fake declines it.
export const refuseTokenExchange = (ctx: Ctx, res: ServerResponse): void => {
  ctx.recorder.exchange({ grant: TOKEN_EXCHANGE, ok: false, error: "unsupported_grant_type" })
  sendJson(res, 400, { error: "unsupported_grant_type" })
}

// grant_type=authorization_code (a form from Codex; `surface` and other extras ignored): a good code starts a new
// refresh-token lineage for its account.
export const handleCodeExchange = (ctx: Ctx, res: ServerResponse, body: unknown): void => {
  const code = stringField(body, "code") ?? ""
  const redirectUri = stringField(body, "redirect_uri")
  const clientId = stringField(body, "client_id")
  const codeVerifier = stringField(body, "code_verifier")
  const fail = (error: string, description: string) => {
    ctx.recorder.exchange({ grant: "authorization_code", code, ok: false, error })
    sendJson(res, 400, { error, error_description: description })
  }
  if (code === "" || redirectUri === undefined || clientId === undefined || codeVerifier === undefined) {
    return fail("invalid_request", "code, redirect_uri, client_id and code_verifier are required")
  }
  const redeemed = ctx.codes.redeem(code, { redirectUri, clientId, codeVerifier })
  if (!redeemed.ok) return fail("invalid_grant", redeemed.description)
  const lineage = ctx.accounts.signIn(redeemed.accountId)
  ctx.recorder.exchange({ grant: "authorization_code", code, accountId: redeemed.accountId, ok: true })
  sendJson(res, 200, {
    id_token: lineage.idToken,
    access_token: lineage.accessToken,
    refresh_token: lineage.refreshToken,
    token_type: "Bearer",
    expires_in: Math.max(0, lineage.accessExp - Math.floor(Date.now() / 1000))
  })
}
