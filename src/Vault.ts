import { Data, Effect, Option, Redacted } from "effect"
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto"
import { DatabaseUrl, DataDir, PreviousSecretKeys, SecretKey } from "./Config.ts"
import { readSecretKeyFile } from "./Vault/KeyFile.ts"

export class VaultDecryptFailed extends Data.TaggedError("VaultDecryptFailed")<{ readonly reason: string }> {}

const VERSION = "v1"
const keyId = (key: Buffer) => createHash("sha256").update(key).digest("hex").slice(0, 16)

export interface VaultKeys {
  readonly current: Redacted.Redacted<Buffer>
  readonly previous: ReadonlyArray<Redacted.Redacted<Buffer>>
}

// Ciphertexts are bound to what they protect (the AAD), so a row's token cannot be swapped into another row.
export const makeVault = (keys: VaultKeys) => {
  const byId = new Map([keys.current, ...keys.previous].map((key) => [keyId(Redacted.value(key)), key] as const))
  const currentId = keyId(Redacted.value(keys.current))

  const encrypt = (plaintext: string, aad: string): string => {
    const nonce = randomBytes(12)
    const cipher = createCipheriv("aes-256-gcm", Redacted.value(keys.current), nonce).setAAD(Buffer.from(aad))
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
    return [VERSION, currentId, Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64url")].join(":")
  }

  const decrypt = (sealed: string, aad: string): Effect.Effect<string, VaultDecryptFailed> =>
    Effect.try({
      try: () => {
        const [version, kid, payload] = sealed.split(":")
        if (version !== VERSION || kid === undefined || payload === undefined) throw new Error("unknown format")
        const key = byId.get(kid)
        if (key === undefined) throw new Error(`no key with id ${kid}`)
        const raw = Buffer.from(payload, "base64url")
        const decipher = createDecipheriv("aes-256-gcm", Redacted.value(key), raw.subarray(0, 12))
          .setAAD(Buffer.from(aad))
          .setAuthTag(raw.subarray(raw.length - 16))
        return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString("utf8")
      },
      catch: (error) =>
        new VaultDecryptFailed({ reason: error instanceof Error ? error.message : "invalid ciphertext" })
    })

  const needsRotation = (sealed: string) => sealed.split(":")[1] !== currentId

  return { encrypt, decrypt, needsRotation, keyId: currentId } as const
}

export class Vault extends Effect.Service<Vault>()("Gateway/Vault", {
  effect: Effect.gen(function*() {
    const configured = yield* SecretKey
    const previous = yield* PreviousSecretKeys
    if (Option.isSome(configured)) return makeVault({ current: configured.value, previous })
    if (Option.isSome(yield* DatabaseUrl)) {
      return yield* Effect.fail(
        new MissingSecretKey({
          message: "CODEX_POOLER_SECRET_KEY is required when DATABASE_URL is set (32 bytes, base64)"
        })
      )
    }
    return makeVault({ current: yield* readSecretKeyFile(yield* DataDir), previous })
  })
}) {}

export class MissingSecretKey extends Data.TaggedError("MissingSecretKey")<{ readonly message: string }> {}
