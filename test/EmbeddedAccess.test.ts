import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { SqlLive } from "../src/Sql.ts"
import { runBinary } from "./support/Binary.ts"
import { configFrom, tempDir } from "./support/Databases.ts"
import { seedDataDir } from "./support/PgliteTemplate.ts"
import { startGateway } from "./support/Serve.ts"

const modeOf = (file: string) => fs.statSync(file).mode & 0o777
const holderOf = (dataDir: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(dataDir, "embedded-server.json"), "utf8"))

// The TCP ports a process listens on: its socket inodes, looked up among the kernel's listening sockets.
const listeningPorts = (pid: number) => {
  const inodes = new Set(
    fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]
        return inode === undefined ? [] : [inode]
      } catch {
        return []
      }
    })
  )
  return ["tcp", "tcp6"].flatMap((table) =>
    fs.readFileSync(`/proc/${pid}/net/${table}`, "utf8").trim().split("\n").slice(1).flatMap((line) => {
      const [, local, , state, , , , , , inode] = line.trim().split(/\s+/)
      const listening = state === "0A" && inode !== undefined && inodes.has(inode)
      return listening ? [parseInt(local?.split(":")[1] ?? "", 16)] : []
    })
  )
}

// What another local user gets when connecting to a Unix socket: "connected", or the error code.
const connectAsNobody = (socket: string) =>
  Effect.async<string>((resume) => {
    const script = `const s = require("node:net").connect(process.argv[1])
      s.on("connect", () => { console.log("connected"); process.exit(0) })
      s.on("error", (e) => { console.log(e.code); process.exit(0) })`
    const child = spawn("runuser", ["-u", "nobody", "--", process.execPath, "-e", script, socket], { cwd: "/" })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.on("close", () => resume(Effect.succeed(out.trim())))
  })

const canSwitchUser = process.getuid?.() === 0 && spawnSync("runuser", ["--help"]).status === 0
const socketOf = (dir: string) => path.join(dir, ".s.PGSQL.5432")

describe("embedded database access", () => {
  it.scopedLive.skipIf(!canSwitchUser)(
    "is served on a Unix socket in a data dir made 0700; no one else gets in",
    () =>
      Effect.gen(function*() {
        // A data dir left open to everyone, with a key file to match, under a parent others may traverse.
        const parent = yield* tempDir("embedded-access")
        fs.chmodSync(parent, 0o755)
        const dataDir = path.join(parent, "data")
        fs.mkdirSync(dataDir, { mode: 0o755 })
        fs.chmodSync(dataDir, 0o755)
        yield* seedDataDir(dataDir)
        fs.writeFileSync(path.join(dataDir, "secret.key"), randomBytes(32).toString("base64") + "\n", { mode: 0o644 })
        fs.chmodSync(path.join(dataDir, "secret.key"), 0o644)
        const env = { CODEX_POOLER_DATA_DIR: dataDir }
        const gateway = yield* startGateway(env)

        expect(modeOf(dataDir)).toBe(0o700)
        expect(modeOf(path.join(dataDir, "secret.key"))).toBe(0o600)
        expect(modeOf(path.join(dataDir, "embedded-server.json"))).toBe(0o600)
        expect(modeOf(path.join(dataDir, "lock"))).toBe(0o600)
        expect(gateway.output()).toContain(`data dir ${dataDir} was open to other local users (mode 755); now 0700`)

        const holder = holderOf(dataDir)
        expect(holder).toEqual({ pid: gateway.child.pid, socketDir: dataDir, role: "serve" })
        expect(fs.statSync(socketOf(dataDir)).isSocket()).toBe(true)
        // The HTTP port is the only TCP port the gateway listens on.
        const pid = gateway.child.pid ?? 0
        expect(listeningPorts(pid)).toEqual([Number(new URL(gateway.url).port)])

        // The CLI still reaches the running server's database (as the same user), another user does not.
        const created = yield* runBinary(["pool", "create", "beside-serve"], env)
        expect(created.code, created.stderr).toBe(0)
        expect(yield* connectAsNobody(socketOf(dataDir))).toBe("EACCES")

        expect(yield* Effect.promise(() => gateway.stop("SIGTERM"))).toBe(0)
        expect(fs.existsSync(socketOf(dataDir))).toBe(false)
      }),
    { timeout: 90_000 }
  )

  it.scopedLive(
    "a data dir too long a path for a socket serves from a fresh 0700 temp dir, removed at the end",
    () =>
      Effect.gen(function*() {
        const dataDir = path.join(yield* tempDir("embedded-long"), "d".repeat(100))
        yield* seedDataDir(dataDir)
        const socketDir = yield* Effect.gen(function*() {
          expect(yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1 AS one`)).toEqual([{ one: 1 }])
          const holder = holderOf(dataDir)
          const dir = String(holder["socketDir"])
          expect(path.dirname(dir)).toBe(path.resolve(os.tmpdir()))
          expect(holder["port"]).toBeUndefined()
          expect(modeOf(dir)).toBe(0o700)
          expect(fs.statSync(socketOf(dir)).isSocket()).toBe(true)
          if (canSwitchUser) expect(yield* connectAsNobody(socketOf(dir))).toBe("EACCES")
          return dir
        }).pipe(Effect.provide(SqlLive.pipe(Layer.provide(configFrom({ CODEX_POOLER_DATA_DIR: dataDir })))))
        expect(fs.existsSync(socketDir)).toBe(false)
        expect(fs.existsSync(path.join(dataDir, "embedded-server.json"))).toBe(false)
      }),
    { timeout: 60_000 }
  )

  it.scoped("a data dir that cannot be made private stops the command with one line", () =>
    Effect.gen(function*() {
      const blocker = path.join(yield* tempDir("embedded-blocked"), "file")
      fs.writeFileSync(blocker, "")
      const result = yield* runBinary(["pool", "list"], { CODEX_POOLER_DATA_DIR: path.join(blocker, "data") })
      expect(result.code).toBe(1)
      expect(result.stderr.trimEnd().split("\n")).toEqual([
        expect.stringContaining(`codex-pooler: cannot make data dir ${path.join(blocker, "data")} private (0700)`)
      ])
    }), { timeout: 60_000 })
})
