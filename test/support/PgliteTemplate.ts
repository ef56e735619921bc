import { PGlite } from "@electric-sql/pglite"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { repoRoot } from "./Cli.ts"

const version: unknown = JSON.parse(
  fs.readFileSync(path.join(repoRoot, "node_modules", "@electric-sql", "pglite", "package.json"), "utf8")
).version
const template = path.join(repoRoot, "node_modules", ".cache", "codex-pooler", `pgdata-pglite-${String(version)}`)

// PGlite runs initdb in WebAssembly when it opens an empty data dir: seconds of CPU (9-10 s on a busy 2-core
// machine), where opening a data dir it already ran in takes half a second. So initdb runs once per PGlite version,
// into node_modules/.cache; workers that race each build their own and the first rename wins.
const initialised = Effect.promise(async () => {
  if (fs.existsSync(template)) return template
  fs.mkdirSync(path.dirname(template), { recursive: true })
  const building = fs.mkdtempSync(`${template}-`)
  const db = new PGlite(path.join(building, "pgdata"))
  await db.waitReady
  await db.close()
  try {
    fs.renameSync(path.join(building, "pgdata"), template)
  } catch (error) {
    if (!fs.existsSync(template)) throw error
  } finally {
    fs.rmSync(building, { recursive: true, force: true })
  }
  return template
})

// Gives `dataDir` (created if missing) the database a first start would make there: a data dir as a later start finds it.
export const seedDataDir = (dataDir: string) =>
  Effect.flatMap(initialised, (from) =>
    Effect.sync(() => {
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
      fs.cpSync(from, path.join(dataDir, "pgdata"), { recursive: true })
    }))
