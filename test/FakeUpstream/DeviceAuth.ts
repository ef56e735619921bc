import type { ServerResponse } from "node:http"
import { pkcePair } from "./AuthCodes.ts"
import type { Ctx } from "./Context.ts"
import type { PollOutcome } from "./DeviceCodes.ts"
import { sendJson } from "./HttpUtil.ts"
import { stringField } from "./Json.ts"
import { CLIENT_ID } from "./Tokens.ts"

// POST /api/accounts/deviceauth/usercode {client_id}: Codex reads device_auth_id, user_code and a string interval.
export const handleUserCode = (ctx: Ctx, res: ServerResponse, body: unknown): void => {
  const { settings } = ctx.devices
  if (!settings.enabled) return sendJson(res, 404, { error: { code: "not_found" } })
  if (stringField(body, "client_id") !== CLIENT_ID) {
    return sendJson(res, 400, { error: "invalid_client", error_description: "Unknown client_id" })
  }
  const issued = ctx.devices.issue()
  sendJson(res, 200, {
    device_auth_id: issued.deviceAuthId,
    user_code: issued.userCode,
    interval: settings.interval,
    expires_at: issued.expiresAt.toISOString()
  })
}

// Codex treats 403 (and 404) as pending and any other status as the end of the sign-in.
const refusals: Record<Exclude<PollOutcome["kind"], "approved">, readonly [number, unknown]> = {
  unknown: [400, { error: "invalid_request" }],
  pending: [403, {
    error: { code: "deviceauth_authorization_pending", message: "Device authorization is pending. Please try again." }
  }],
  slow_down: [429, { error: "slow_down" }],
  denied: [401, { error: "authorization_declined", error_description: "Denied" }],
  expired: [410, { error: "expired_token" }]
}

// POST /api/accounts/deviceauth/token {device_auth_id, user_code}: once approved, an authorization code and the PKCE
// pair the server made for it, exchanged at /oauth/token with redirect_uri {issuer}/deviceauth/callback.
export const handleDeviceToken = (ctx: Ctx, res: ServerResponse, body: unknown): void => {
  const outcome = ctx.devices.poll(stringField(body, "device_auth_id") ?? "", stringField(body, "user_code") ?? "")
  if (outcome.kind !== "approved") {
    const [status, answer] = refusals[outcome.kind]
    return sendJson(res, status, answer)
  }
  const { codeVerifier, codeChallenge } = pkcePair()
  const redirectUri = `${ctx.issuer}/deviceauth/callback`
  const code = ctx.codes.issue({ accountId: outcome.accountId, codeChallenge, redirectUri, clientId: CLIENT_ID })
  sendJson(res, 200, { authorization_code: code, code_challenge: codeChallenge, code_verifier: codeVerifier })
}
