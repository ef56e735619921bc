import { issueTokens, type TokenSubject } from "./Tokens.ts"
import type { FakeAccount, FakeAccountInit, RateLimits, Usage } from "./Types.ts"

// One sign-in's tokens: a refresh rotates them within the lineage, and an older refresh token of it is a reuse.
export interface Lineage {
  readonly accountId: string
  accessToken: string
  idToken: string
  refreshToken: string
  accessExp: number
  lastRefresh: Date
  revoked: boolean
}

// The account itself is its original lineage (what authJson shows); each later sign-in adds one beside it.
export interface AccountState extends TokenSubject, Lineage {
  readonly signIns: Array<Lineage>
  answer: string | undefined
  usage: Partial<Usage>
  rateLimits: RateLimits
  // redeem_request_id → windows it reset: asked again, the same id answers already_redeemed
  readonly redemptions: Map<string, number>
}

export type AuthResult =
  | { readonly ok: true; readonly account: AccountState }
  | { readonly ok: false; readonly message: string }

export type RefreshOutcome = "ok" | "refresh_token_reused" | "refresh_token_invalidated"

export type RefreshResult =
  | { readonly outcome: "ok"; readonly account: AccountState; readonly lineage: Lineage }
  | { readonly outcome: Exclude<RefreshOutcome, "ok">; readonly account?: AccountState }

export const defaultRateLimits: RateLimits = {
  primaryUsedPercent: 12.5,
  primaryWindowMinutes: 300,
  primaryResetAfterSeconds: 3600,
  secondaryUsedPercent: 40,
  secondaryWindowMinutes: 10080,
  secondaryResetAfterSeconds: 86400,
  hasCredits: false,
  unlimited: false,
  balance: "0"
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000)

const newLineage = (subject: TokenSubject): Lineage => ({
  accountId: subject.accountId,
  ...issueTokens(subject, nowSeconds()),
  lastRefresh: new Date(),
  revoked: false
})

export const lineagesOf = (account: AccountState): ReadonlyArray<Lineage> => [account, ...account.signIns]

export class Accounts {
  readonly #byId = new Map<string, AccountState>()
  // every refresh token ever issued → its lineage; only the lineage's current one is redeemable
  readonly #refreshOwners = new Map<string, Lineage>()
  #counter = 0

  add(init: FakeAccountInit = {}): AccountState {
    const n = ++this.#counter
    const accountId = init.accountId ?? `acct-fake-${n}`
    if (this.#byId.has(accountId)) throw new Error(`fake account ${accountId} already exists`)
    const subject: TokenSubject = {
      accountId,
      userId: `user-fake-${n}`,
      email: init.email ?? `user${n}@fake.example`,
      plan: init.plan ?? "pro",
      accessTokenTtlSeconds: init.accessTokenTtlSeconds ?? 3600
    }
    const state: AccountState = {
      ...subject,
      ...newLineage(subject),
      signIns: [],
      answer: init.answer,
      usage: {},
      rateLimits: defaultRateLimits,
      redemptions: new Map()
    }
    this.#byId.set(accountId, state)
    this.#refreshOwners.set(state.refreshToken, state)
    return state
  }

  get(accountId: string): AccountState | undefined {
    return this.#byId.get(accountId)
  }

  require(accountId: string): AccountState {
    const state = this.#byId.get(accountId)
    if (state === undefined) throw new Error(`unknown fake account ${accountId}`)
    return state
  }

  all(): ReadonlyArray<AccountState> {
    return [...this.#byId.values()]
  }

  authenticate(authorization: string | undefined, accountId: string | undefined): AuthResult {
    const bearer = /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1]?.trim()
    if (bearer === undefined) return { ok: false, message: "Missing bearer authentication in header" }
    if (accountId === undefined) return { ok: false, message: "Missing ChatGPT-Account-ID header" }
    const account = this.#byId.get(accountId)
    const lineage = account && lineagesOf(account).find((one) => !one.revoked && one.accessToken === bearer)
    if (account === undefined || lineage === undefined || lineage.accessExp <= nowSeconds()) {
      return { ok: false, message: "Provided authentication token is expired. Please try signing in again." }
    }
    return { ok: true, account }
  }

  lineageOfRefreshToken(refreshToken: string): Lineage | undefined {
    return this.#refreshOwners.get(refreshToken)
  }

  refresh(refreshToken: string): RefreshResult {
    const lineage = this.#refreshOwners.get(refreshToken)
    const account = lineage && this.#byId.get(lineage.accountId)
    if (lineage === undefined || account === undefined) return { outcome: "refresh_token_invalidated" }
    if (lineage.revoked) return { outcome: "refresh_token_invalidated", account }
    if (lineage.refreshToken !== refreshToken) return { outcome: "refresh_token_reused", account }
    Object.assign(lineage, newLineage(account))
    this.#refreshOwners.set(lineage.refreshToken, lineage)
    return { outcome: "ok", account, lineage }
  }

  // A new lineage for the account, leaving its others (an auth.json elsewhere) untouched.
  signIn(accountId: string): Lineage {
    const account = this.require(accountId)
    const lineage = newLineage(account)
    account.signIns.push(lineage)
    this.#refreshOwners.set(lineage.refreshToken, lineage)
    return lineage
  }

  // Any refresh token of a lineage, or its current access token, ends the whole lineage; unknown tokens are ignored.
  revoke(token: string): void {
    const lineage = this.#refreshOwners.get(token) ??
      this.all().flatMap(lineagesOf).find((one) => one.accessToken === token)
    if (lineage !== undefined) lineage.revoked = true
  }

  expireAccessToken(accountId: string): void {
    for (const lineage of lineagesOf(this.require(accountId))) lineage.accessExp = 0
  }
}

export const publicAccount = (state: AccountState): FakeAccount => ({
  accountId: state.accountId,
  email: state.email,
  plan: state.plan,
  accessToken: state.accessToken,
  refreshToken: state.refreshToken,
  idToken: state.idToken
})

export const authJson = (state: AccountState) => ({
  auth_mode: "chatgpt",
  OPENAI_API_KEY: null,
  tokens: {
    id_token: state.idToken,
    access_token: state.accessToken,
    refresh_token: state.refreshToken,
    account_id: state.accountId
  },
  last_refresh: state.lastRefresh.toISOString()
})
