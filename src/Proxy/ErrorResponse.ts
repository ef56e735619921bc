import { HttpServerResponse } from "@effect/platform"
import { Cause, Effect } from "effect"
import type { AccountUnavailable } from "../AccountCredentials/Errors.ts"
import type { CredentialRejected } from "../Domain/Errors.ts"
import type { V1BadRequest } from "../V1/Errors.ts"
import {
  type BodyTooLarge,
  DatabaseUnavailable,
  InternalError,
  type InvalidBody,
  type InvalidQuery,
  type KeyLimitExceeded,
  type MethodNotAllowed,
  type ModelNotAllowed,
  type NoAccountAvailable,
  type OpenWebSocketsExceeded,
  type PoolExhausted,
  type RealtimeCallNotFound,
  type RedemptionConflict,
  type UnsupportedEncoding,
  type UnsupportedEndpoint,
  type UpgradeRequired,
  type UpstreamUnavailable,
  type V1Disabled,
  type WebSocketFrameInvalid,
  type WebSocketHandshakeInvalid,
  type WebSocketNotSupported
} from "./Errors.ts"

export type ProxyError =
  | CredentialRejected
  | UnsupportedEndpoint
  | MethodNotAllowed
  | BodyTooLarge
  | UnsupportedEncoding
  | InvalidBody
  | InvalidQuery
  | UpgradeRequired
  | NoAccountAvailable
  | AccountUnavailable
  | UpstreamUnavailable
  | PoolExhausted
  | KeyLimitExceeded
  | ModelNotAllowed
  | DatabaseUnavailable
  | InternalError
  | WebSocketHandshakeInvalid
  | WebSocketNotSupported
  | OpenWebSocketsExceeded
  | WebSocketFrameInvalid
  | RealtimeCallNotFound
  | RedemptionConflict
  | V1BadRequest
  | V1Disabled

export interface ErrorAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: {
    readonly error: {
      readonly type: string
      readonly code: string
      readonly message: string
      readonly resets_at?: number
      readonly retryable?: boolean
      // /v1's refusals name the field they refuse, as OpenAI's do
      readonly param?: string | null
    }
  }
}

const body = (
  status: number,
  type: string,
  code: string,
  message: string,
  headers: Record<string, string> = {}
): ErrorAnswer => ({
  status,
  headers,
  body: { error: { type, code, message } }
})

// The only place a failure of the proxy path becomes an answer, in the JSON shape Codex reads
// ({"error":{type, code, message}}). Upstream errors are relayed as they came and never pass through here.
export const errorAnswer = (error: ProxyError): ErrorAnswer => {
  switch (error._tag) {
    case "CredentialRejected":
      return body(401, "invalid_request_error", "invalid_api_key", error.message, {
        "www-authenticate": "Bearer realm=\"codex-pooler\""
      })
    case "UnsupportedEndpoint":
      return body(404, "invalid_request_error", "unsupported_endpoint", error.message)
    case "MethodNotAllowed":
      return body(405, "invalid_request_error", "method_not_allowed", error.message, { allow: error.allow.join(", ") })
    case "BodyTooLarge":
      return body(413, "invalid_request_error", "request_too_large", error.message)
    case "UnsupportedEncoding":
      return body(415, "invalid_request_error", "unsupported_content_encoding", error.message)
    case "InvalidBody":
      return body(400, "invalid_request_error", "invalid_json", error.message)
    case "InvalidQuery":
      return body(400, "invalid_request_error", "invalid_query", error.message)
    case "V1BadRequest":
      return {
        status: 400,
        headers: {},
        body: { error: { type: "invalid_request_error", code: error.code, message: error.message, param: error.param } }
      }
    case "V1Disabled":
      return body(403, "permission_error", "v1_disabled", error.message)
    case "RedemptionConflict":
      return body(409, "invalid_request_error", "redemption_conflict", error.message, { "retry-after": "5" })
    case "UpgradeRequired":
      return body(426, "invalid_request_error", "upgrade_required", error.message)
    case "NoAccountAvailable":
      return body(503, "server_error", "no_account_available", error.message)
    case "AccountUnavailable":
      return body(
        503,
        "server_error",
        "no_account_available",
        "no account of this Pool can serve the request right now"
      )
    case "UpstreamUnavailable":
      return body(502, "server_error", "upstream_unavailable", error.message)
    case "DatabaseUnavailable":
      return body(503, "server_error", "database_unavailable", error.message, { "retry-after": "1" })
    case "InternalError":
      return body(500, "server_error", "internal_error", error.message)
    case "ModelNotAllowed":
      return body(403, "invalid_request_error", "model_not_allowed", error.message)
    case "KeyLimitExceeded": {
      // A limit is not an authentication failure: 429 with Retry-After. Within the minute or a stream's length,
      // Codex may retry (`retryable`); a daily budget is not worth its five retries.
      const retryable = error.limit !== "tokens_per_day"
      return {
        status: 429,
        headers: { "retry-after": String(error.retryAfterSeconds) },
        body: { error: { type: "rate_limit_exceeded", code: `key_${error.limit}`, message: error.message, retryable } }
      }
    }
    case "WebSocketHandshakeInvalid":
      return body(
        400,
        "invalid_request_error",
        "invalid_websocket_handshake",
        error.message,
        error.reason === "version" ? { "sec-websocket-version": "13" } : {}
      )
    case "WebSocketNotSupported":
      return body(400, "invalid_request_error", "websocket_not_supported", error.message)
    case "OpenWebSocketsExceeded":
      return body(429, "rate_limit_exceeded", "key_open_websockets", error.message, { "retry-after": "5" })
    case "WebSocketFrameInvalid":
      return body(400, "invalid_request_error", "invalid_frame", error.message)
    case "RealtimeCallNotFound":
      return body(404, "invalid_request_error", "realtime_call_not_found", error.message)
    case "PoolExhausted": {
      // Codex's usage-limit shape (codex-protocol.md §9): it shows its user the reset time and does not retry.
      const resetsAt = Math.ceil(error.resetsAt.getTime() / 1000)
      const retryAfter = String(Math.max(1, resetsAt - Math.floor(Date.now() / 1000)))
      return {
        status: 429,
        headers: { "retry-after": retryAfter },
        body: {
          error: {
            type: "usage_limit_reached",
            code: "usage_limit_reached",
            message: error.message,
            resets_at: resetsAt
          }
        }
      }
    }
  }
}

export const errorResponse = (answer: ErrorAnswer): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(answer.body, { status: answer.status, headers: answer.headers })

const isSqlError = (defect: unknown) =>
  typeof defect === "object" && defect !== null && "_tag" in defect && defect._tag === "SqlError"

// A request that died rather than failed: the database went away (503, safe to retry), or a bug (500), which is
// logged here with its cause — a cause holds no bodies or tokens, only errors and stack traces.
export const fromDefect = (cause: Cause.Cause<unknown>): Effect.Effect<DatabaseUnavailable | InternalError> => {
  const defects = [...Cause.defects(cause)]
  if (defects.length > 0 && defects.every(isSqlError)) {
    return Effect.as(Effect.logWarning("database unreachable; request refused", cause), new DatabaseUnavailable())
  }
  return Effect.as(Effect.logError("request failed unexpectedly", cause), new InternalError())
}
