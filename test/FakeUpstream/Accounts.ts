import { issueTokens, type TokenSubject } from "./Tokens.ts"
import type { FakeAccount, FakeAccountInit, RateLimits, Usage } from "./Types.ts"

export interface AccountState extends TokenSubject {
  accessToken: string
  idToken: string
  refreshToken: string
  accessExp: number
  lastRefresh: Date
  answer: string | undefined
  usage: Partial<Usage>
  rateLimits: RateLimits
}

export type AuthResult =
  | { readonly ok: true; readonly account: AccountState }
  | { readonly ok: false; readonly message: string }

export type RefreshOutcome = "ok" | "refresh_token_reused" | "refresh_token_invalidated"

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

export class Accounts {
  readonly #byId = new Map<string, AccountState>()
  // every refresh token ever issued → account; only the account's current one is redeemable
  readonly #refreshOwners = new Map<string, string>()
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
    const tokens = issueTokens(subject, nowSeconds())
    const state: AccountState = {
      ...subject,
      ...tokens,
      lastRefresh: new Date(),
      answer: init.answer,
      usage: {},
      rateLimits: defaultRateLimits
    }
    this.#byId.set(accountId, state)
    this.#refreshOwners.set(tokens.refreshToken, accountId)
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
    if (account === undefined || account.accessToken !== bearer) {
      return { ok: false, message: "Provided authentication token is expired. Please try signing in again." }
    }
    if (account.accessExp <= nowSeconds()) {
      return { ok: false, message: "Provided authentication token is expired. Please try signing in again." }
    }
    return { ok: true, account }
  }

  ownerOfRefreshToken(refreshToken: string): AccountState | undefined {
    const owner = this.#refreshOwners.get(refreshToken)
    return owner === undefined ? undefined : this.#byId.get(owner)
  }

  refresh(refreshToken: string): { readonly outcome: RefreshOutcome; readonly account?: AccountState } {
    const account = this.ownerOfRefreshToken(refreshToken)
    if (account === undefined) return { outcome: "refresh_token_invalidated" }
    if (account.refreshToken !== refreshToken) return { outcome: "refresh_token_reused", account }
    this.rotate(account)
    return { outcome: "ok", account }
  }

  rotate(account: AccountState): void {
    const tokens = issueTokens(account, nowSeconds())
    Object.assign(account, tokens, { lastRefresh: new Date() })
    this.#refreshOwners.set(tokens.refreshToken, account.accountId)
  }

  expireAccessToken(accountId: string): void {
    this.require(accountId).accessExp = 0
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
