import { Data, Effect } from "effect"
import * as fs from "node:fs"

export class DataDirUnsafe extends Data.TaggedError("DataDirUnsafe")<{ readonly message: string }> {}

const ownerOnly = (mode: number) => (mode & 0o077) === 0
const reason = (error: unknown) => error instanceof Error ? error.message : String(error)

// PGlite creates its files 0666 and its socket is open to whoever can reach it: the data dir's mode is what keeps
// other local users out, so it is made (and kept) 0700 at every start, whatever it was before.
export const secureDataDir = (dataDir: string) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
      const mode = fs.statSync(dataDir).mode & 0o777
      if (!ownerOnly(mode)) fs.chmodSync(dataDir, 0o700)
      return mode
    },
    catch: (error) => new DataDirUnsafe({ message: `cannot make data dir ${dataDir} private (0700): ${reason(error)}` })
  }).pipe(
    Effect.flatMap((mode) =>
      ownerOnly(mode)
        ? Effect.void
        : Effect.logWarning(`data dir ${dataDir} was open to other local users (mode ${mode.toString(8)}); now 0700`)
    )
  )

// A file only the gateway's user may read (the secret key): tightened if it was looser.
export const tightenFile = (file: string) =>
  Effect.try({
    try: () => {
      if (fs.existsSync(file) && !ownerOnly(fs.statSync(file).mode)) fs.chmodSync(file, 0o600)
    },
    catch: (error) => new DataDirUnsafe({ message: `cannot make ${file} private (0600): ${reason(error)}` })
  })
