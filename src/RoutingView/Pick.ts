import { createHash } from "node:crypto"

export type Strategy = "quota_first" | "round_robin" | "least_recently_used" | "rendezvous"

export interface AccountState {
  readonly id: string
  readonly status: string
  // last picked, as the database knew it at the last load (this instance's own picks are kept beside)
  readonly lastUsedAt: number | null
  readonly refreshLeaseUntil: number | null
  readonly cooldownUntil: number | null
  readonly cooldownReason: string | null
  readonly circuitState: string | null
  readonly circuitOpenedAt: number | null
  readonly healthUpdatedAt: number | null
  readonly quota: ReadonlyArray<{ readonly usedPercent: number; readonly resetsAt: number | null }>
}

export interface PoolState {
  readonly strategy: Strategy
  readonly accounts: ReadonlyArray<AccountState>
}

export interface PickRequest {
  readonly owner: string | null
  readonly threadKey: string | null
  readonly pinned: boolean
  readonly exclude: ReadonlyArray<string>
}

const after = (at: number | null, now: number) => at !== null && at > now

// Neither paused nor signed out, not resting, and its circuit closed — or open long enough for one probe.
export const eligible = (account: AccountState, now: number, circuitOpenMs: number) =>
  account.status === "active" && !after(account.cooldownUntil, now) &&
  !(account.circuitState === "open" && after(account.circuitOpenedAt, now - circuitOpenMs)) &&
  !(account.circuitState === "half_open" && after(account.healthUpdatedAt, now - circuitOpenMs))

// The most used fresh quota window; null (first) when nothing fresh is known.
const headroomOrder = (account: AccountState, now: number) => {
  let most: number | null = null
  for (const window of account.quota) {
    if (window.resetsAt !== null && window.resetsAt <= now) continue
    if (most === null || window.usedPercent > most) most = window.usedPercent
  }
  return most
}

const compareNullsFirst = (left: number | null, right: number | null) =>
  left === right ? 0 : left === null ? -1 : right === null ? 1 : left - right

// The account a request goes to: the session's owner while it is eligible (and only it, when pinned); otherwise by
// the Pool's strategy — quota_first: most headroom in the fresh quota windows; rendezvous: a stable hash of the thread
// and the account, which spreads threads and keeps each one put; least_recently_used and round_robin: the account
// used longest ago, which takes them in turn. An account whose token is being refreshed comes after the others (the
// auth server may take seconds); ties go to the account used longest ago, then by id.
export const pickAccount = (
  pool: PoolState,
  request: PickRequest,
  lastUsed: (account: AccountState) => number | null,
  now: number,
  circuitOpenMs: number
): AccountState | undefined => {
  const candidates = pool.accounts.filter((account) =>
    !request.exclude.includes(account.id) && eligible(account, now, circuitOpenMs) &&
    (!request.pinned || request.owner === null || account.id === request.owner)
  )
  if (candidates.length <= 1) return candidates[0]
  const keyed = candidates.map((account) => ({
    account,
    owner: account.id === request.owner ? 0 : 1,
    refreshing: after(account.refreshLeaseUntil, now) ? 1 : 0,
    headroom: pool.strategy === "quota_first" ? headroomOrder(account, now) : null,
    hash: pool.strategy === "rendezvous"
      ? createHash("md5").update((request.threadKey ?? "") + account.id).digest("hex")
      : "",
    lastUsed: lastUsed(account)
  }))
  keyed.sort((left, right) =>
    left.owner - right.owner || left.refreshing - right.refreshing ||
    compareNullsFirst(left.headroom, right.headroom) ||
    (left.hash < right.hash ? -1 : left.hash > right.hash ? 1 : 0) ||
    compareNullsFirst(left.lastUsed, right.lastUsed) ||
    (left.account.id < right.account.id ? -1 : left.account.id > right.account.id ? 1 : 0)
  )
  return keyed[0]?.account
}

// The soonest moment an active account of the Pool ends a usage-limit rest, if any rests.
export const earliestReset = (pool: PoolState, now: number) => {
  let soonest: number | null = null
  for (const account of pool.accounts) {
    const until = account.cooldownUntil
    if (account.status !== "active" || account.cooldownReason !== "usage_limit" || until === null || until <= now) {
      continue
    }
    if (soonest === null || until < soonest) soonest = until
  }
  return soonest
}

// The account a new request of the Pool (no session yet) would go to; when none is eligible, the active account
// that ends its usage-limit rest soonest, marked resting. Nothing is picked: no one's turn moves.
export const nextAccount = (
  pool: PoolState,
  lastUsed: (account: AccountState) => number | null,
  now: number,
  circuitOpenMs: number
): { readonly account: AccountState; readonly resting: boolean } | undefined => {
  const eligibleNow = pickAccount(
    pool,
    { owner: null, threadKey: null, pinned: false, exclude: [] },
    lastUsed,
    now,
    circuitOpenMs
  )
  if (eligibleNow !== undefined) return { account: eligibleNow, resting: false }
  const soonest = earliestReset(pool, now)
  const resting = pool.accounts.find((account) =>
    account.status === "active" && account.cooldownReason === "usage_limit" && account.cooldownUntil === soonest
  )
  return resting === undefined || soonest === null ? undefined : { account: resting, resting: true }
}
