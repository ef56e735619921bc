import type { AccountState } from "./Accounts.ts"
import { rateLimitHeaders } from "./RateLimits.ts"
import type { StatusFault } from "./Types.ts"

export interface ErrorAnswer {
  readonly status: number
  readonly body: { readonly error: Record<string, unknown> }
  readonly headers: Record<string, string>
}

export const unauthorizedBody = (message: string) => ({ error: { message, code: "token_expired" } })

export const statusFaultAnswer = (fault: StatusFault, account: AccountState): ErrorAnswer => {
  const headers = rateLimitHeaders(account.rateLimits, account.plan)
  switch (fault.kind) {
    case "usage_limit": {
      const resetsIn = fault.resetsInSeconds ?? 1800
      return {
        status: 429,
        body: {
          error: {
            type: "usage_limit_reached",
            message: "The usage limit has been reached",
            plan_type: account.plan,
            resets_at: Math.floor(Date.now() / 1000) + resetsIn,
            resets_in_seconds: resetsIn
          }
        },
        headers: { ...rateLimitHeaders({ ...account.rateLimits, primaryUsedPercent: 100 }, account.plan) }
      }
    }
    case "usage_not_included":
      return {
        status: 429,
        body: {
          error: {
            type: "usage_not_included",
            message: "Codex is not included in your ChatGPT plan",
            plan_type: account.plan
          }
        },
        headers
      }
    case "plain_429":
      return {
        status: 429,
        body: { error: { type: "rate_limit_exceeded", code: "rate_limit_exceeded", message: "Rate limit reached" } },
        headers
      }
    case "retryable_429": {
      const retryAfter = fault.retryAfterSeconds ?? 1
      return {
        status: 429,
        body: {
          error: {
            type: "rate_limit_exceeded",
            code: "rate_limit_exceeded",
            message: `Rate limit reached. Please try again in ${retryAfter}s.`,
            retryable: true
          }
        },
        headers: { ...headers, "retry-after": String(retryAfter) }
      }
    }
    case "http_500":
      return {
        status: fault.status ?? 500,
        body: { error: { type: "server_error", message: "The server had an error while processing your request." } },
        headers
      }
    case "unauthorized":
      return {
        status: 401,
        body: unauthorizedBody("Provided authentication token is expired. Please try signing in again."),
        headers: {}
      }
    case "overloaded":
      return {
        status: 503,
        body: {
          error: {
            type: "server_error",
            code: fault.code ?? "server_is_overloaded",
            message: "Our servers are currently overloaded. Please try again later."
          }
        },
        headers
      }
  }
}

export const connectionLimitFrame = {
  type: "error",
  error: {
    type: "invalid_request_error",
    code: "websocket_connection_limit_reached",
    message: "Responses websocket connection limit reached (60 minutes). Create a new websocket connection to continue."
  }
}

export const previousResponseNotFound = (id: string) => ({
  status: 400,
  error: {
    type: "invalid_request_error",
    code: "previous_response_not_found",
    message: `Previous response with id '${id}' not found.`,
    param: "previous_response_id"
  }
})

export const invalidRequest = (message: string) => ({
  error: { type: "invalid_request_error", code: "invalid_request", message }
})
