import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Data, Effect } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"

export class DataDirBusy extends Data.TaggedError("DataDirBusy")<{ readonly message: string }> {}

export interface Endpoint {
  readonly host: string
  readonly port: number
}

interface ServerRecord {
  readonly pid: number
  readonly port: number
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return error instanceof Error && "code" in error && error.code === "EPERM"
  }
}

const readRecord = (file: string): ServerRecord | undefined => {
  try {
    const value: unknown = JSON.parse(fs.readFileSync(file, "utf8"))
    if (typeof value === "object" && value !== null && "pid" in value && "port" in value) {
      const { pid, port } = value
      if (typeof pid === "number" && typeof port === "number") return { pid, port }
    }
  } catch {
    return undefined
  }
  return undefined
}

const answers = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.on("error", () => resume(Effect.succeed(false)))
    return Effect.sync(() => socket.destroy())
  })

// PGlite is one process's database. The process that opens the data dir serves it on a loopback port and
// records that port, so a CLI started while `serve` runs talks to the server's copy instead of opening its own.
export const acquire = (dataDir: string) =>
  Effect.gen(function*() {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    const recordFile = path.join(dataDir, "embedded-server.json")
    const existing = readRecord(recordFile)
    if (existing !== undefined && existing.pid !== process.pid && isAlive(existing.pid)) {
      if (yield* answers(existing.port)) return { host: "127.0.0.1", port: existing.port } satisfies Endpoint
      return yield* new DataDirBusy({
        message: `data dir ${dataDir} is held by process ${existing.pid}, which does not answer on port ${existing.port}`
      })
    }
    const db = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const db = new PGlite(path.join(dataDir, "pgdata"))
        await db.waitReady
        return db
      }),
      (db) => Effect.promise(() => db.close())
    )
    const server = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 16 })
        await server.start()
        return server
      }),
      (server) => Effect.promise(() => server.stop())
    )
    const port = Number(server.getServerConn().split(":").at(-1))
    yield* Effect.acquireRelease(
      Effect.sync(() => fs.writeFileSync(recordFile, JSON.stringify({ pid: process.pid, port }), { mode: 0o600 })),
      () => Effect.sync(() => fs.rmSync(recordFile, { force: true }))
    )
    return { host: "127.0.0.1", port } satisfies Endpoint
  })
