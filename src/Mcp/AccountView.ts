import { Clock, Effect, Schema } from "effect"
import type { Account } from "../Domain/Models.ts"
import { Quota } from "../Quota.ts"
import type { QuotaRow } from "../Quota/QuotaRepo.ts"
import { FleetRepo, type Health } from "./FleetRepo.ts"
import { maskEmail, Timestamp } from "./Tool.ts"

export const AccountView = Schema.Struct({
  id: Schema.String,
  email: Schema.NullOr(Schema.String),
  plan: Schema.NullOr(Schema.String),
  status: Schema.Literal("active", "paused", "reauth_required"),
  pools: Schema.Array(Schema.String),
  lastRefreshAt: Timestamp,
  // saved usage-limit resets, as upstream last reported them; null when it never has
  resetCredits: Schema.NullOr(Schema.Number),
  cooldown: Schema.NullOr(Schema.Struct({ until: Schema.Date, reason: Schema.NullOr(Schema.String) })),
  circuit: Schema.Struct({
    state: Schema.Literal("closed", "open", "half_open"),
    consecutiveFailures: Schema.Number,
    openedAt: Timestamp,
    lastErrorCode: Schema.NullOr(Schema.String),
    lastFailureAt: Timestamp
  }),
  quota: Schema.Array(Schema.Struct({
    limitName: Schema.String,
    window: Schema.Literal("primary", "secondary"),
    usedPercent: Schema.Number,
    windowMinutes: Schema.NullOr(Schema.Number),
    resetsAt: Timestamp,
    observedAt: Schema.Date
  }))
})
export type AccountView = typeof AccountView.Type

const closed = {
  state: "closed",
  consecutiveFailures: 0,
  openedAt: null,
  lastErrorCode: null,
  lastFailureAt: null
} as const

const toView = (
  account: Account,
  row: Health | undefined,
  windows: ReadonlyArray<QuotaRow>,
  now: number
): AccountView => ({
  id: account.id,
  email: maskEmail(account.email),
  plan: account.plan,
  status: account.status,
  pools: account.pools,
  lastRefreshAt: account.lastRefreshAt,
  resetCredits: account.resetCredits,
  cooldown: row?.cooldownUntil && row.cooldownUntil.getTime() > now
    ? { until: row.cooldownUntil, reason: row.cooldownReason }
    : null,
  circuit: row === undefined ? closed : {
    state: row.circuitState,
    consecutiveFailures: row.consecutiveFailures,
    openedAt: row.circuitOpenedAt,
    lastErrorCode: row.lastErrorCode,
    lastFailureAt: row.lastFailureAt
  },
  quota: windows.map((window) => ({
    limitName: window.limitName,
    window: window.windowKind,
    usedPercent: window.usedPercent,
    windowMinutes: window.windowMinutes,
    resetsAt: window.resetsAt,
    observedAt: window.observedAt
  }))
})

// An account as operators see it: e-mail masked, health and quota windows joined in.
export const makeAccountViews = Effect.gen(function*() {
  const fleet = yield* FleetRepo
  const quota = yield* Quota
  const many = (accounts: ReadonlyArray<Account>) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const health = new Map<string, Health>((yield* fleet.health).map((row) => [row.accountId, row]))
      return yield* Effect.forEach(accounts, (account) =>
        Effect.map(quota.forAccount(account.id), (windows) =>
          toView(account, health.get(account.id), windows, now)))
    })
  const one = (account: Account) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const row = (yield* fleet.health).find((health) => health.accountId === account.id)
      return toView(account, row, yield* quota.forAccount(account.id), now)
    })
  return { many, one } as const
})
