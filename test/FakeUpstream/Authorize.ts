import type { ServerResponse } from "node:http"
import type { Ctx } from "./Context.ts"
import { sendJson } from "./HttpUtil.ts"
import { CLIENT_ID } from "./Tokens.ts"

// the only redirect URIs registered for Codex's client id (server.rs: 1455, fallback 1457)
const REDIRECT_URIS: ReadonlySet<string> = new Set([
  "http://localhost:1455/auth/callback",
  "http://localhost:1457/auth/callback"
])

const paramsOf = (query: Record<string, string>) => ({
  clientId: query["client_id"] ?? "",
  responseType: query["response_type"] ?? "",
  redirectUri: query["redirect_uri"] ?? "",
  method: query["code_challenge_method"] ?? "",
  codeChallenge: query["code_challenge"] ?? "",
  state: query["state"] ?? ""
})

type Params = ReturnType<typeof paramsOf>

const checks: ReadonlyArray<readonly [error: string, ok: (params: Params) => boolean, description: string]> = [
  ["invalid_client", (params) => params.clientId === CLIENT_ID, "Unknown client_id"],
  ["unsupported_response_type", (params) => params.responseType === "code", "response_type must be code"],
  ["invalid_request", (params) => REDIRECT_URIS.has(params.redirectUri), "redirect_uri is not registered"],
  ["invalid_request", (params) => params.method === "S256", "code_challenge_method must be S256"],
  ["invalid_request", (params) => params.codeChallenge !== "", "code_challenge is required"],
  ["invalid_request", (params) => params.state !== "", "state is required"]
]

// GET /oauth/authorize: where a real issuer shows its login page, the fake signs in whom the test queued
// (fake.nextSignIn) and redirects at once; unknown parameters (scope, originator, allowed_workspace_id…) are ignored.
export const handleAuthorize = (ctx: Ctx, res: ServerResponse, query: Record<string, string>): void => {
  const params = paramsOf(query)
  const failed = checks.find(([, ok]) => !ok(params))
  if (failed !== undefined) return sendJson(res, 400, { error: failed[0], error_description: failed[2] })
  const choice = ctx.signIns.shift()
  if (choice === undefined) return sendJson(res, 400, { error: "no_sign_in_queued" })
  const location = new URL(params.redirectUri)
  if (typeof choice === "string") {
    const { codeChallenge, redirectUri, clientId } = params
    location.searchParams.set("code", ctx.codes.issue({ accountId: choice, codeChallenge, redirectUri, clientId }))
  } else {
    location.searchParams.set("error", choice.deny)
    if (choice.description !== undefined) location.searchParams.set("error_description", choice.description)
  }
  location.searchParams.set("state", params.state)
  res.writeHead(302, { location: location.href, "content-length": "0" })
  res.end()
}
