export interface FakeAccountInit {
  accountId?: string
  email?: string
  plan?: string
  accessTokenTtlSeconds?: number
  answer?: string
}

export interface FakeAccount {
  accountId: string
  email: string
  plan: string
  accessToken: string
  refreshToken: string
  idToken: string
}

// A status fault hits POST /responses, compact and websocket frames; `onUpgrade` moves it to the websocket handshake,
// `onUsage` adds GET /wham/usage, `onResetCredits` moves it to the reset-credit routes (list and consume).
type UpgradeOption = {
  readonly onUpgrade?: boolean
  readonly onUsage?: boolean
  readonly onResetCredits?: boolean
}

export type StatusFault =
  | { readonly kind: "usage_limit"; readonly resetsInSeconds?: number } & UpgradeOption
  | { readonly kind: "usage_not_included" } & UpgradeOption
  | { readonly kind: "plain_429" } & UpgradeOption
  | { readonly kind: "retryable_429"; readonly retryAfterSeconds?: number } & UpgradeOption
  | { readonly kind: "http_500"; readonly status?: number } & UpgradeOption
  | { readonly kind: "unauthorized" } & UpgradeOption
  | { readonly kind: "overloaded"; readonly code?: "server_is_overloaded" | "slow_down" } & UpgradeOption

export type StreamFault =
  | { readonly kind: "failed_event"; readonly code?: string; readonly message?: string }
  | { readonly kind: "incomplete"; readonly reason?: string }
  | { readonly kind: "disconnect_mid_stream"; readonly afterEvents?: number }
  // after the first event: `ms`, or until `until` settles (a test's own release), or until the client goes away
  | { readonly kind: "stall"; readonly ms?: number; readonly until?: Promise<unknown> }

export type Fault =
  | StatusFault
  | StreamFault
  | { readonly kind: "ws_426" }
  | { readonly kind: "ws_404" }
  | { readonly kind: "ws_connection_limit" }
  // websocket: answer the next response.create with `frames` delta frames of `bytes` each, sent without waiting
  | { readonly kind: "flood"; readonly frames: number; readonly bytes: number }
  // HTTP: the connection is dropped before any response, as an unreachable or crashed backend would
  | { readonly kind: "connection_reset" }
  | { readonly kind: "refresh_token_expired" }

export type FaultKind = Fault["kind"]

export type RecordedKind = "http" | "ws-upgrade" | "ws-in"

export interface RecordedRequest {
  readonly seq: number
  readonly at: number
  readonly kind: RecordedKind
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly headers: Readonly<Record<string, string>>
  readonly body?: unknown
  readonly rawBody?: string
  readonly connection?: number
  readonly accountId?: string
  readonly status?: number
  readonly fault?: FaultKind
  readonly responseId?: string
  readonly resolvedInput?: ReadonlyArray<unknown>
  // the exact SSE text written back, so relays can be compared byte for byte
  readonly sentBody?: string
}

export interface RefreshCall {
  readonly refreshToken: string
  readonly reason?: string
  readonly outcome: string
  readonly accountId?: string
}

// Every /oauth/token call that is not a refresh: `grant` as sent, `code` for authorization_code.
export interface CodeExchange {
  readonly grant: string
  readonly code?: string
  readonly accountId?: string
  readonly ok: boolean
  readonly error?: string
}

// Whom the next GET /oauth/authorize signs in: an account id, or a denial sent back to the redirect_uri.
export type SignInChoice = string | { readonly deny: string; readonly description?: string }

export interface Usage {
  readonly inputTokens: number
  readonly cachedTokens: number
  readonly outputTokens: number
  readonly reasoningTokens: number
}

export interface RateLimits {
  readonly primaryUsedPercent: number
  readonly primaryWindowMinutes: number
  readonly primaryResetAfterSeconds: number
  readonly secondaryUsedPercent: number
  readonly secondaryWindowMinutes: number
  readonly secondaryResetAfterSeconds: number
  readonly hasCredits: boolean
  readonly unlimited: boolean
  readonly balance: string
  // saved usage-limit resets the usage endpoint reports (`rate_limit_reset_credits`); left out when undefined
  readonly resetCredits?: number
}
