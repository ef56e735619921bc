import { Schema } from "effect"

export const Strategy = Schema.Literal("quota_first", "round_robin", "least_recently_used", "rendezvous")
export type Strategy = typeof Strategy.Type

export const Pool = Schema.Struct({
  id: Schema.String,
  slug: Schema.String,
  name: Schema.String,
  strategy: Strategy,
  status: Schema.Literal("active", "disabled"),
  // when every active account rests at its usage limit, a saved reset is redeemed by itself (off unless set)
  autoRedeemResets: Schema.Boolean,
  // the OpenAI-compatible /v1 answers this Pool's keys (on unless turned off)
  v1Enabled: Schema.Boolean,
  createdAt: Schema.DateFromSelf
})
export type Pool = typeof Pool.Type

export const AccountStatus = Schema.Literal("active", "paused", "reauth_required")

export const Account = Schema.Struct({
  id: Schema.String,
  chatgptAccountId: Schema.String,
  chatgptUserId: Schema.String,
  email: Schema.NullOr(Schema.String),
  plan: Schema.NullOr(Schema.String),
  status: AccountStatus,
  accessExpiresAt: Schema.NullOr(Schema.DateFromSelf),
  lastRefreshAt: Schema.NullOr(Schema.DateFromSelf),
  createdAt: Schema.DateFromSelf,
  pools: Schema.Array(Schema.String),
  // saved usage-limit resets, as upstream last reported them (null: never reported)
  resetCredits: Schema.NullOr(Schema.Number)
})
export type Account = typeof Account.Type

export const PoolKey = Schema.Struct({
  id: Schema.String,
  poolId: Schema.String,
  poolSlug: Schema.String,
  name: Schema.String,
  status: Schema.Literal("active", "revoked"),
  expiresAt: Schema.NullOr(Schema.DateFromSelf),
  revokedAt: Schema.NullOr(Schema.DateFromSelf),
  lastUsedAt: Schema.NullOr(Schema.DateFromSelf),
  createdAt: Schema.DateFromSelf
})
export type PoolKey = typeof PoolKey.Type

export const OperatorScope = Schema.Literal("read", "admin")
export type OperatorScope = typeof OperatorScope.Type

export const OperatorToken = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  scope: OperatorScope,
  status: Schema.Literal("active", "revoked"),
  expiresAt: Schema.NullOr(Schema.DateFromSelf),
  revokedAt: Schema.NullOr(Schema.DateFromSelf),
  lastUsedAt: Schema.NullOr(Schema.DateFromSelf),
  createdAt: Schema.DateFromSelf
})
export type OperatorToken = typeof OperatorToken.Type
