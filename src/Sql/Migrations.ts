import type * as Migrator from "@effect/sql/Migrator"
import { Effect } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"

const folder = new URL("../../migrations/", import.meta.url)
const migrationFile = /^(\d{4})_([a-z0-9_]+)\.(ts|js)$/

// The stock file-system loader cannot import `.ts` under vitest, so migrations are discovered here, in project code.
export const loader: Migrator.Loader = Effect.sync(() =>
  fs.readdirSync(fileURLToPath(folder)).sort().flatMap((file) => {
    const match = migrationFile.exec(file)
    if (match === null) return []
    const load = Effect.promise(() => import(new URL(file, folder).href))
    return [[Number(match[1]), match[2] ?? file, load] as const]
  })
)
