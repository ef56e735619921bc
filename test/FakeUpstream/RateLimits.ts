import type { RateLimits } from "./Types.ts"

const nowSeconds = (): number => Math.floor(Date.now() / 1000)

export const rateLimitHeaders = (limits: RateLimits, plan: string): Record<string, string> => {
  const now = nowSeconds()
  return {
    "x-codex-primary-used-percent": String(limits.primaryUsedPercent),
    "x-codex-primary-window-minutes": String(limits.primaryWindowMinutes),
    "x-codex-primary-reset-after-seconds": String(limits.primaryResetAfterSeconds),
    "x-codex-primary-reset-at": String(now + limits.primaryResetAfterSeconds),
    "x-codex-secondary-used-percent": String(limits.secondaryUsedPercent),
    "x-codex-secondary-window-minutes": String(limits.secondaryWindowMinutes),
    "x-codex-secondary-reset-after-seconds": String(limits.secondaryResetAfterSeconds),
    "x-codex-secondary-reset-at": String(now + limits.secondaryResetAfterSeconds),
    "x-codex-credits-has-credits": String(limits.hasCredits),
    "x-codex-credits-unlimited": String(limits.unlimited),
    "x-codex-credits-balance": limits.balance,
    "x-codex-plan-type": plan,
    "x-codex-active-limit": "codex"
  }
}

export const rateLimitsFrame = (limits: RateLimits, plan: string) => {
  const now = nowSeconds()
  const window = (usedPercent: number, windowMinutes: number, resetAfterSeconds: number) => ({
    used_percent: usedPercent,
    window_minutes: windowMinutes,
    reset_after_seconds: resetAfterSeconds,
    reset_at: now + resetAfterSeconds
  })
  return {
    type: "codex.rate_limits",
    plan_type: plan,
    rate_limits: {
      allowed: limits.primaryUsedPercent < 100,
      limit_reached: limits.primaryUsedPercent >= 100,
      primary: window(limits.primaryUsedPercent, limits.primaryWindowMinutes, limits.primaryResetAfterSeconds),
      secondary: window(limits.secondaryUsedPercent, limits.secondaryWindowMinutes, limits.secondaryResetAfterSeconds)
    },
    credits: { has_credits: limits.hasCredits, unlimited: limits.unlimited, balance: limits.balance }
  }
}

// GET /backend-api/wham/usage: the same windows in the usage endpoint's shape (seconds, not minutes; whole percents:
// Codex 0.169 reads every window field as an integer and fails the whole read on a fraction). The limit is reached
// when a window is full and no credits carry the account past it.
export const usagePayload = (
  account: {
    readonly accountId: string
    readonly userId: string
    readonly email: string
    readonly plan: string
    readonly rateLimits: RateLimits
  }
) => {
  const limits = account.rateLimits
  const now = nowSeconds()
  const window = (usedPercent: number, windowMinutes: number, resetAfterSeconds: number) => ({
    used_percent: Math.round(usedPercent),
    limit_window_seconds: windowMinutes * 60,
    reset_after_seconds: resetAfterSeconds,
    reset_at: now + resetAfterSeconds
  })
  const full = limits.primaryUsedPercent >= 100 || limits.secondaryUsedPercent >= 100
  const reached = full && !limits.hasCredits && !limits.unlimited
  return {
    user_id: account.userId,
    account_id: account.accountId,
    email: account.email,
    plan_type: account.plan,
    rate_limit: {
      allowed: !reached,
      limit_reached: reached,
      primary_window: window(limits.primaryUsedPercent, limits.primaryWindowMinutes, limits.primaryResetAfterSeconds),
      secondary_window: window(
        limits.secondaryUsedPercent,
        limits.secondaryWindowMinutes,
        limits.secondaryResetAfterSeconds
      )
    },
    credits: { has_credits: limits.hasCredits, unlimited: limits.unlimited, balance: limits.balance },
    ...(limits.resetCredits === undefined ? {} : { rate_limit_reset_credits: { available_count: limits.resetCredits } })
  }
}
