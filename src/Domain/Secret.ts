import { Option } from "effect"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"

export type SecretKind = "cpk" | "cpo"

export interface IssuedSecret {
  readonly publicId: string
  readonly token: string
  readonly hash: Buffer
}

export const hashSecret = (secret: string): Buffer => createHash("sha256").update(secret, "utf8").digest()

export const issueSecret = (kind: SecretKind): IssuedSecret => {
  const publicId = randomBytes(8).toString("hex")
  const secret = randomBytes(32).toString("base64url")
  return { publicId, token: `${kind}_${publicId}_${secret}`, hash: hashSecret(secret) }
}

const shape = /^(cpk|cpo)_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/

export const parseSecret = (kind: SecretKind, token: string): Option.Option<{ publicId: string; secret: string }> => {
  const match = shape.exec(token)
  if (match === null || match[1] !== kind || match[2] === undefined || match[3] === undefined) return Option.none()
  return Option.some({ publicId: match[2], secret: match[3] })
}

export const secretMatches = (storedHash: Uint8Array, secret: string): boolean => {
  const candidate = hashSecret(secret)
  return storedHash.length === candidate.length && timingSafeEqual(storedHash, candidate)
}

// A stand-in hash compared when the public id is unknown, so a miss costs the same as a wrong secret.
export const decoyHash: Buffer = hashSecret(randomBytes(32).toString("base64url"))

export interface StoredSecret {
  readonly secretHash: Uint8Array
  readonly status: "active" | "revoked"
  readonly expiresAt: Date | null
}

export type SecretCheck = "ok" | "invalid" | "revoked" | "expired"

export const checkSecret = (row: Option.Option<StoredSecret>, secret: string, now: Date): SecretCheck => {
  const stored = Option.getOrUndefined(row)
  const matches = secretMatches(stored?.secretHash ?? decoyHash, secret)
  if (stored === undefined || !matches) return "invalid"
  if (stored.status === "revoked") return "revoked"
  if (stored.expiresAt !== null && stored.expiresAt.getTime() <= now.getTime()) return "expired"
  return "ok"
}
