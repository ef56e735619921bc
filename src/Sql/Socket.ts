import { Data, Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Holder } from "./Holder.ts"

// node-postgres reaches a Unix socket when its host is a directory: it connects to `${host}/.s.PGSQL.${port}`.
export const socketPort = 5432
export const socketPath = (dir: string) => path.join(dir, `.s.PGSQL.${socketPort}`)

// sun_path holds 108 bytes on Linux (104 on macOS) with its NUL; Node cuts a longer path short without a word.
const maxPathBytes = process.platform === "linux" ? 107 : 103
const fits = (dir: string) => Buffer.byteLength(socketPath(dir)) <= maxPathBytes

const tempPrefix = "codex-pooler-db-"
const isTempSocketDir = (dir: string) =>
  path.dirname(dir) === path.resolve(os.tmpdir()) && path.basename(dir).startsWith(tempPrefix)

export class SocketPathTooLong extends Data.TaggedError("SocketPathTooLong")<{ readonly message: string }> {}

// The socket lives in the data dir (0700). Where that path is too long for a socket, it lives in a fresh directory
// of the temp dir instead (mkdtemp makes it 0700, under a name no one could have taken first), recorded in the
// holder file and removed at the end.
export const socketDir = (dataDir: string) => {
  const own = path.resolve(dataDir)
  if (fits(own)) return Effect.succeed(own)
  return Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), tempPrefix))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  ).pipe(
    Effect.filterOrFail(fits, () =>
      new SocketPathTooLong({
        message: `data dir ${own} is too long a path for the database's Unix socket, and so is the temp dir ` +
          `${os.tmpdir()}; point CODEX_POOLER_DATA_DIR or TMPDIR at a shorter path`
      }))
  )
}

// What a holder that died left behind: its socket file, and its temp socket dir if it had one.
export const removeStale = (dataDir: string, stale: Holder | undefined) =>
  Effect.sync(() => {
    fs.rmSync(socketPath(path.resolve(dataDir)), { force: true })
    if (stale !== undefined && isTempSocketDir(stale.socketDir)) {
      fs.rmSync(stale.socketDir, { recursive: true, force: true })
    }
  })
