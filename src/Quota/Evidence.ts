import { Option, Schema } from "effect"

export interface QuotaWindow {
  readonly limitName: string
  readonly windowKind: "primary" | "secondary"
  readonly usedPercent: number
  readonly windowMinutes: number | null
  readonly resetsAt: Date | null
}

const windowKinds = ["primary", "secondary"] as const
const familyHeader = /^x-([a-z0-9-]+)-(primary|secondary)-used-percent$/

const finite = (text: string | undefined) => {
  const value = text === undefined || text.trim() === "" ? Number.NaN : Number(text)
  return Number.isFinite(value) ? value : null
}

const epochSeconds = (value: number | null) => value === null ? null : new Date(value * 1000)

const limitNameOf = (family: string) =>
  family === "codex" ? "codex" : family.replace(/^codex-/, "").replaceAll("-", "_")

// Rate-limit headers as Codex reads them (codex-protocol.md §9): one family per `x-<family>-<window>-used-percent`.
export const fromHeaders = (headers: Readonly<Record<string, string | undefined>>): ReadonlyArray<QuotaWindow> =>
  Object.keys(headers).flatMap((name) => {
    const match = familyHeader.exec(name.toLowerCase())
    const family = match?.[1]
    const windowKind = match?.[2] === "primary" ? "primary" : "secondary"
    const usedPercent = finite(headers[name])
    if (family === undefined || usedPercent === null) return []
    const prefix = `x-${family}-${windowKind}`
    const windowMinutes = finite(headers[`${prefix}-window-minutes`])
    const resetsAt = epochSeconds(finite(headers[`${prefix}-reset-at`]))
    if (usedPercent === 0 && !windowMinutes && resetsAt === null) return []
    return [{ limitName: limitNameOf(family), windowKind, usedPercent, windowMinutes, resetsAt }]
  })

// A window's reset: its own time, else the time it is due in, counted from when it was reported.
const resetOf = (
  window: { readonly reset_at?: number | null | undefined; readonly reset_after_seconds?: number | null | undefined },
  now: Date
) =>
  epochSeconds(
    window.reset_at ?? (window.reset_after_seconds == null ? null : now.getTime() / 1000 + window.reset_after_seconds)
  )

const EventWindow = Schema.Struct({
  used_percent: Schema.Number,
  window_minutes: Schema.optional(Schema.NullOr(Schema.Number)),
  reset_at: Schema.optional(Schema.NullOr(Schema.Number)),
  reset_after_seconds: Schema.optional(Schema.NullOr(Schema.Number))
})

const RateLimitsEvent = Schema.Struct({
  type: Schema.Literal("codex.rate_limits"),
  metered_limit_name: Schema.optional(Schema.String),
  limit_name: Schema.optional(Schema.String),
  rate_limits: Schema.Struct({
    limit_reached: Schema.optional(Schema.Boolean),
    primary: Schema.optional(Schema.NullOr(EventWindow)),
    secondary: Schema.optional(Schema.NullOr(EventWindow))
  })
})

const decodeRateLimits = Schema.decodeUnknownOption(RateLimitsEvent)

type RateLimitsFrame = typeof RateLimitsEvent.Type

const frameWindows = (frame: RateLimitsFrame, now: Date): ReadonlyArray<QuotaWindow> =>
  windowKinds.flatMap((windowKind) => {
    const window = frame.rate_limits[windowKind]
    if (!window) return []
    return [{
      limitName: frame.metered_limit_name ?? frame.limit_name ?? "codex",
      windowKind,
      usedPercent: window.used_percent,
      windowMinutes: window.window_minutes ?? null,
      resetsAt: resetOf(window, now)
    }]
  })

// `codex.rate_limits` frames (websocket, codex-protocol.md §5) carry the same windows as the headers.
export const fromRateLimitsEvent = (event: unknown, now: Date): ReadonlyArray<QuotaWindow> =>
  Option.match(decodeRateLimits(event), { onNone: () => [], onSome: (frame) => frameWindows(frame, now) })

const UsageWindow = Schema.Struct({
  used_percent: Schema.Number,
  limit_window_seconds: Schema.optional(Schema.NullOr(Schema.Number)),
  reset_after_seconds: Schema.optional(Schema.NullOr(Schema.Number)),
  reset_at: Schema.optional(Schema.NullOr(Schema.Number))
})

const UsagePayload = Schema.Struct({
  rate_limit: Schema.optional(Schema.NullOr(Schema.Struct({
    allowed: Schema.optional(Schema.Boolean),
    limit_reached: Schema.optional(Schema.Boolean),
    primary_window: Schema.optional(Schema.NullOr(UsageWindow)),
    secondary_window: Schema.optional(Schema.NullOr(UsageWindow))
  })))
})

const decodeUsage = Schema.decodeUnknownOption(UsagePayload)

export interface UsageReport {
  readonly windows: ReadonlyArray<QuotaWindow>
  // Upstream's own verdict: true when the account cannot serve until a window resets, credits taken into account.
  readonly limitReached: boolean
}

// The usage endpoint Codex's `/status` reads (GET /backend-api/wham/usage): the same two windows, in seconds.
export const fromUsagePayload = (payload: unknown, now: Date): Option.Option<UsageReport> =>
  Option.map(decodeUsage(payload), ({ rate_limit }) => {
    const windows = windowKinds.flatMap((windowKind) => {
      const window = rate_limit?.[windowKind === "primary" ? "primary_window" : "secondary_window"]
      if (!window) return []
      return [{
        limitName: "codex",
        windowKind,
        usedPercent: window.used_percent,
        windowMinutes: window.limit_window_seconds == null ? null : Math.round(window.limit_window_seconds / 60),
        resetsAt: resetOf(window, now)
      }]
    })
    return { windows, limitReached: rate_limit?.limit_reached === true || rate_limit?.allowed === false }
  })

const ResetCredits = Schema.Struct({
  rate_limit_reset_credits: Schema.Struct({
    available_count: Schema.Int.pipe(Schema.between(0, 1_000_000))
  })
})

const decodeResetCredits = Schema.decodeUnknownOption(ResetCredits)

// The account's saved usage-limit resets, when the usage answer names them (`rate_limit_reset_credits`, optional).
export const resetCreditsOf = (payload: unknown): number | null =>
  Option.match(decodeResetCredits(payload), {
    onNone: () => null,
    onSome: (found) => found.rate_limit_reset_credits.available_count
  })

const truthy = (text: string | undefined) => text !== undefined && ["true", "1"].includes(text.trim().toLowerCase())

// What a successful response's headers (their windows, read once by `fromHeaders`) say of the account's Codex limit:
// reached when a window is full (and not yet reset) and no credits carry the account past it (codex-protocol.md §9).
export const usageFromHeaders = (
  windows: ReadonlyArray<QuotaWindow>,
  headers: Readonly<Record<string, string | undefined>>,
  now: Date
): UsageReport => {
  const codex = windows.filter((window) => window.limitName === "codex")
  const credited = truthy(headers["x-codex-credits-has-credits"]) || truthy(headers["x-codex-credits-unlimited"])
  const full = codex.some((window) => window.usedPercent >= 100 && window.resetsAt !== null && window.resetsAt > now)
  return { windows: codex, limitReached: full && !credited }
}

// The same from a `codex.rate_limits` frame, which carries upstream's own verdict.
export const usageFromRateLimitsEvent = (event: unknown, now: Date): UsageReport =>
  Option.match(decodeRateLimits(event), {
    onNone: () => ({ windows: [], limitReached: false }),
    onSome: (frame) => ({ windows: frameWindows(frame, now), limitReached: frame.rate_limits.limit_reached === true })
  })
