import type { IncomingMessage, ServerResponse } from "node:http"
import { bearerOf } from "../Domain/Bearer.ts"
import { CredentialRejected } from "../Domain/Errors.ts"

export const bearerToken = (request: IncomingMessage) => bearerOf(request.headers.authorization)

export const jsonRpcError = (response: ServerResponse, status: number, code: number, message: string, headers = {}) => {
  const body = JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null })
  response.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body)
  })
  response.end(body)
}

// RFC 6750: no error code when no credentials were sent at all, invalid_token otherwise.
export const rejectCredential = (response: ServerResponse, error: CredentialRejected) => {
  const challenge = error.reason === "missing"
    ? `Bearer realm="codex-pooler"`
    : `Bearer realm="codex-pooler", error="invalid_token", error_description="${error.message}"`
  jsonRpcError(response, 401, -32001, error.message, { "www-authenticate": challenge })
}

export const missingCredential = new CredentialRejected({ kind: "cpo", reason: "missing" })
