import { createHash, randomBytes } from "node:crypto"

const CODE_TTL_MS = 10 * 60 * 1000

export interface CodeGrant {
  readonly accountId: string
  readonly codeChallenge: string
  readonly redirectUri: string
  readonly clientId: string
}

export interface CodeRedemption {
  readonly redirectUri: string
  readonly clientId: string
  readonly codeVerifier: string
}

interface Issued extends CodeGrant {
  readonly expiresAt: number
  used: boolean
}

export const pkceChallenge = (verifier: string): string =>
  createHash("sha256").update(verifier, "ascii").digest("base64url")

// Codex's pkce.rs: 64 random bytes as base64url make the verifier
export const pkcePair = (): { readonly codeVerifier: string; readonly codeChallenge: string } => {
  const codeVerifier = randomBytes(64).toString("base64url")
  return { codeVerifier, codeChallenge: pkceChallenge(codeVerifier) }
}

const mismatch = (issued: Issued, redemption: CodeRedemption): string | undefined => {
  if (issued.used) return "The authorization code has already been used"
  if (issued.expiresAt <= Date.now()) return "The authorization code has expired"
  if (issued.redirectUri !== redemption.redirectUri) return "redirect_uri does not match the authorization request"
  if (issued.clientId !== redemption.clientId) return "client_id does not match the authorization request"
  if (pkceChallenge(redemption.codeVerifier) !== issued.codeChallenge) return "code_verifier does not match"
  return undefined
}

// One-time authorization codes from /oauth/authorize and from approved device codes; a failed try leaves the code usable.
export class AuthCodes {
  readonly #codes = new Map<string, Issued>()

  issue(grant: CodeGrant): string {
    const code = `ac_fake_${randomBytes(18).toString("base64url")}`
    this.#codes.set(code, { ...grant, expiresAt: Date.now() + CODE_TTL_MS, used: false })
    return code
  }

  redeem(
    code: string,
    redemption: CodeRedemption
  ): { readonly ok: true; readonly accountId: string } | { readonly ok: false; readonly description: string } {
    const issued = this.#codes.get(code)
    if (issued === undefined) return { ok: false, description: "Unknown authorization code" }
    const problem = mismatch(issued, redemption)
    if (problem !== undefined) return { ok: false, description: problem }
    issued.used = true
    return { ok: true, accountId: issued.accountId }
  }
}
