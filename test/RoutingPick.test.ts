import { describe, expect, it } from "vitest"
import { type AccountState, earliestReset, nextAccount, pickAccount, type PoolState } from "../src/RoutingView/Pick.ts"

const now = 1_800_000_000_000
const circuitOpenMs = 30_000

const account = (id: string, state: Partial<AccountState> = {}): AccountState => ({
  id,
  status: "active",
  lastUsedAt: null,
  refreshLeaseUntil: null,
  cooldownUntil: null,
  cooldownReason: null,
  circuitState: null,
  circuitOpenedAt: null,
  healthUpdatedAt: null,
  quota: [],
  ...state
})

const pick = (
  accounts: ReadonlyArray<AccountState>,
  request: { owner?: string; threadKey?: string; pinned?: boolean; exclude?: Array<string> } = {},
  strategy: PoolState["strategy"] = "least_recently_used"
) =>
  pickAccount(
    { strategy, accounts },
    {
      owner: request.owner ?? null,
      threadKey: request.threadKey ?? null,
      pinned: request.pinned ?? false,
      exclude: request.exclude ?? []
    },
    (candidate) => candidate.lastUsedAt,
    now,
    circuitOpenMs
  )?.id

// The in-memory pick, held to the order the one-statement SQL pick had.
describe("routing pick", () => {
  it("passes over paused, resting and excluded accounts, and open circuits until their time is up", () => {
    expect(pick([account("a", { status: "paused" }), account("b")])).toBe("b")
    expect(pick([account("a", { cooldownUntil: now + 1 }), account("b", { lastUsedAt: now })])).toBe("b")
    expect(pick([account("a", { cooldownUntil: now - 1 }), account("b")])).toBe("a")
    expect(pick([account("a"), account("b")], { exclude: ["a"] })).toBe("b")
    const open = (at: number) => account("a", { circuitState: "open", circuitOpenedAt: at })
    expect(pick([open(now - 1000), account("b", { lastUsedAt: now })])).toBe("b")
    expect(pick([open(now - circuitOpenMs - 1), account("b", { lastUsedAt: now })])).toBe("a")
    // a probe under way: the half-open circuit is passed over for the same time
    const probing = account("a", { circuitState: "half_open", healthUpdatedAt: now - 1000 })
    expect(pick([probing, account("b", { lastUsedAt: now })])).toBe("b")
    expect(pick([account("a", { status: "reauth_required" })])).toBeUndefined()
  })

  it("prefers the session's owner, insists on it when pinned, and puts a refreshing account last", () => {
    const accounts = [account("a"), account("b", { lastUsedAt: now })]
    expect(pick(accounts)).toBe("a")
    expect(pick(accounts, { owner: "b" })).toBe("b")
    expect(pick([account("a"), account("b", { status: "paused" })], { owner: "b" })).toBe("a")
    expect(pick([account("a"), account("b", { status: "paused" })], { owner: "b", pinned: true })).toBeUndefined()
    expect(pick([account("a", { refreshLeaseUntil: now + 5000 }), account("b", { lastUsedAt: now })])).toBe("b")
  })

  it("orders by the Pool's strategy: least recently used, most headroom, a stable hash of the thread", () => {
    expect(
      pick([
        account("a", { lastUsedAt: now }),
        account("b", { lastUsedAt: now - 10 }),
        account("c", { lastUsedAt: now - 5 })
      ])
    )
      .toBe("b")
    const quota = (usedPercent: number, resetsAt: number | null) => [{ usedPercent, resetsAt }]
    const byQuota = [
      account("a", { quota: quota(90, now + 1000) }),
      account("b", { quota: quota(10, now + 1000) }),
      account("c", { quota: quota(50, null) })
    ]
    expect(pick(byQuota, {}, "quota_first")).toBe("b")
    // a window that has reset says nothing: nothing known comes first
    expect(pick([...byQuota, account("d", { quota: quota(99, now - 1) })], {}, "quota_first")).toBe("d")
    const spread = [account("a"), account("b"), account("c")]
    const chosen = ["t1", "t2", "t3", "t4"].map((threadKey) => pick(spread, { threadKey }, "rendezvous"))
    expect(["t1", "t2", "t3", "t4"].map((threadKey) => pick([...spread].reverse(), { threadKey }, "rendezvous")))
      .toEqual(chosen)
  })

  it("names the soonest end of a usage-limit rest among active accounts", () => {
    const pool: PoolState = {
      strategy: "least_recently_used",
      accounts: [
        account("a", { cooldownUntil: now + 600_000, cooldownReason: "usage_limit" }),
        account("b", { cooldownUntil: now + 60_000, cooldownReason: "rate_limited" }),
        account("c", { cooldownUntil: now + 300_000, cooldownReason: "usage_limit", status: "paused" })
      ]
    }
    expect(earliestReset(pool, now)).toBe(now + 600_000)
  })
})

describe("the account a new request would get (the Pool's usage view)", () => {
  const next = (accounts: ReadonlyArray<AccountState>, strategy: PoolState["strategy"] = "least_recently_used") =>
    nextAccount({ strategy, accounts }, (candidate) => candidate.lastUsedAt, now, circuitOpenMs)

  it("is the strategy's pick while an account is eligible", () => {
    const found = next([account("a", { lastUsedAt: now - 10 }), account("b", { lastUsedAt: now - 20 })])
    expect(found).toMatchObject({ account: { id: "b" }, resting: false })
    const byQuota = next([
      account("a", { quota: [{ usedPercent: 80, resetsAt: now + 60_000 }] }),
      account("b", { quota: [{ usedPercent: 10, resetsAt: now + 60_000 }] })
    ], "quota_first")
    expect(byQuota?.account.id).toBe("b")
  })

  it("is the account that ends its rest soonest when every one rests, and nothing when none is active", () => {
    const rest = (until: number) => ({ cooldownUntil: now + until, cooldownReason: "usage_limit" })
    const found = next([account("a", rest(90_000)), account("b", rest(30_000)), account("c", { status: "paused" })])
    expect(found).toMatchObject({ account: { id: "b" }, resting: true })
    expect(next([account("c", { status: "paused" })])).toBeUndefined()
  })
})
