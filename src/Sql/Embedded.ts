import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Data, Effect, Schedule } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { secureDataDir } from "./DataDir.ts"
import { type Holder, readHolder, removeHolder, writeHolder } from "./Holder.ts"
import { removeStale, socketDir, socketPath, socketPort } from "./Socket.ts"

export class DataDirBusy extends Data.TaggedError("DataDirBusy")<{ readonly message: string }> {}

// A directory holding the socket, as node-postgres takes it: `host` is the directory, `port` names the file.
export interface Endpoint {
  readonly host: string
  readonly port: number
}

const endpointAt = (dir: string): Endpoint => ({ host: dir, port: socketPort })

const answers = (dir: string) =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ path: socketPath(dir) }, () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.on("error", () => resume(Effect.succeed(false)))
    return Effect.sync(() => socket.destroy())
  })

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return error instanceof Error && "code" in error && error.code === "EPERM"
  }
}

class Waiting extends Data.TaggedError("Waiting")<{ readonly holder: Holder | undefined }> {}

const open = (dataDir: string, role: Holder["role"], stale: Holder | undefined) =>
  Effect.gen(function*() {
    const db = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const db = new PGlite(path.join(dataDir, "pgdata"))
        await db.waitReady
        return db
      }),
      (db) => Effect.promise(() => db.close())
    )
    yield* removeStale(dataDir, stale)
    const dir = yield* socketDir(dataDir)
    yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const server = new PGLiteSocketServer({ db, path: socketPath(dir), maxConnections: 16 })
        await server.start()
        // The directory already keeps others out; the socket itself is not theirs to write to either.
        fs.chmodSync(socketPath(dir), 0o600)
        return server
      }),
      (server) => Effect.promise(() => server.stop())
    )
    yield* Effect.acquireRelease(
      Effect.sync(() => writeHolder(dataDir, { pid: process.pid, socketDir: dir, role })),
      () => Effect.sync(() => removeHolder(dataDir))
    )
    return endpointAt(dir)
  })

// PGlite is one process's database. The process holding the data dir's lock opens it and serves it on a Unix socket
// only its own user can reach; while `serve` holds it, CLI commands connect to that socket. Other CLI runs wait their
// turn for the lock.
export const acquire = (dataDir: string, role: Holder["role"]) =>
  Effect.gen(function*() {
    yield* secureDataDir(dataDir)
    const lockFile = path.join(dataDir, "lock")
    const attempt = Effect.gen(function*() {
      const holder = readHolder(dataDir)
      if (holder?.role === "serve" && isAlive(holder.pid) && (yield* answers(holder.socketDir))) {
        return endpointAt(holder.socketDir)
      }
      const locked = yield* Effect.acquireRelease(
        Effect.sync(() => {
          try {
            fs.writeFileSync(lockFile, String(process.pid), { flag: "wx", mode: 0o600 })
            return true
          } catch {
            const pid = Number(fs.readFileSync(lockFile, "utf8"))
            if (!isAlive(pid)) fs.rmSync(lockFile, { force: true })
            return false
          }
        }),
        (locked) => locked ? Effect.sync(() => fs.rmSync(lockFile, { force: true })) : Effect.void
      )
      if (!locked) return yield* new Waiting({ holder })
      return yield* open(dataDir, role, holder)
    })
    return yield* attempt.pipe(
      Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 150, while: (error) => error._tag === "Waiting" }),
      Effect.catchTag("Waiting", ({ holder }) =>
        new DataDirBusy({
          message: `data dir ${dataDir} is in use by process ${
            holder?.pid ?? "unknown"
          }; stop it or point CODEX_POOLER_DATA_DIR elsewhere`
        }))
    )
  })
