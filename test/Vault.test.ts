import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeVault, Vault } from "../src/Vault.ts"
import { configFrom, tempDir } from "./support/Databases.ts"

const key = () => Redacted.make(randomBytes(32))

describe("Vault", () => {
  const vault = makeVault({ current: key(), previous: [] })

  it.effect("round-trips a token and uses a fresh nonce for every write", () =>
    Effect.gen(function*() {
      const first = vault.encrypt("refresh-token-value", "account:a:refresh_token")
      const second = vault.encrypt("refresh-token-value", "account:a:refresh_token")
      expect(first).not.toEqual(second)
      expect(first).not.toContain("refresh-token-value")
      expect(first.split(":")[1]).toEqual(vault.keyId)
      expect(yield* vault.decrypt(first, "account:a:refresh_token")).toEqual("refresh-token-value")
      expect(yield* vault.decrypt(second, "account:a:refresh_token")).toEqual("refresh-token-value")
    }))

  it.effect("detects a flipped byte, a swapped row and an unknown key", () =>
    Effect.gen(function*() {
      const sealed = vault.encrypt("access-token-value", "account:a:access_token")
      const [version, kid, payload = ""] = sealed.split(":")
      const raw = Buffer.from(payload, "base64url")
      raw[raw.length - 20] = (raw[raw.length - 20] ?? 0) ^ 1
      const flipped = [version, kid, raw.toString("base64url")].join(":")
      const results = yield* Effect.all([
        Effect.exit(vault.decrypt(flipped, "account:a:access_token")),
        Effect.exit(vault.decrypt(sealed, "account:b:access_token")),
        Effect.exit(makeVault({ current: key(), previous: [] }).decrypt(sealed, "account:a:access_token"))
      ])
      for (const result of results) expect(Exit.isFailure(result)).toBe(true)
    }))

  it.effect("reads ciphertexts of a previous key after rotation and says they need re-encryption", () =>
    Effect.gen(function*() {
      const old = key()
      const sealed = makeVault({ current: old, previous: [] }).encrypt("token", "aad")
      const rotated = makeVault({ current: key(), previous: [old] })
      expect(yield* rotated.decrypt(sealed, "aad")).toEqual("token")
      expect(rotated.needsRotation(sealed)).toBe(true)
      expect(rotated.needsRotation(rotated.encrypt("token", "aad"))).toBe(false)
    }))

  it.scoped("embedded mode generates one 0600 key file and keeps using it", () =>
    Effect.gen(function*() {
      const dir = path.join(yield* tempDir("vault"), "data")
      const build = Effect.provide(Vault, Vault.Default.pipe(Layer.provide(configFrom({ CODEX_POOLER_DATA_DIR: dir }))))
      const first = yield* build
      const second = yield* build
      expect(first.keyId).toEqual(second.keyId)
      expect(fs.statSync(path.join(dir, "secret.key")).mode & 0o777).toBe(0o600)
      expect(yield* second.decrypt(first.encrypt("x", "aad"), "aad")).toEqual("x")
    }))

  it.effect("refuses to start on PostgreSQL without CODEX_POOLER_SECRET_KEY", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromMap(new Map([["DATABASE_URL", "postgres://127.0.0.1/x"]]))
      const exit = yield* Effect.exit(
        Effect.provide(Vault, Vault.Default.pipe(Layer.provide(Layer.setConfigProvider(provider))))
      )
      expect(Exit.isFailure(exit) && Option.getOrUndefined(Exit.causeOption(exit))?.toString()).toContain(
        "CODEX_POOLER_SECRET_KEY is required when DATABASE_URL is set"
      )
    }))
})
