import { Effect, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { secureDataDir, tightenFile } from "../Sql/DataDir.ts"

// Embedded mode: the key is generated once and kept next to the database, readable by the owner only.
export const readSecretKeyFile = (dataDir: string) =>
  Effect.gen(function*() {
    yield* secureDataDir(dataDir)
    const file = path.join(dataDir, "secret.key")
    yield* tightenFile(file)
    yield* Effect.sync(() => {
      try {
        fs.writeFileSync(file, randomBytes(32).toString("base64") + "\n", { flag: "wx", mode: 0o600 })
      } catch (error) {
        if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) throw error
      }
    })
    const key = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64")
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`)
    return Redacted.make(key)
  })
