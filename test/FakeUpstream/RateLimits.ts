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
