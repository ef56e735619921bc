import * as fs from "node:fs"
import * as path from "node:path"

// Who holds the data dir, and the directory of the Unix socket its database is served on (no TCP port: a loopback
// port has no owner, every local user could connect).
export interface Holder {
  readonly pid: number
  readonly socketDir: string
  readonly role: "serve" | "cli"
}

const file = (dataDir: string) => path.join(dataDir, "embedded-server.json")

export const readHolder = (dataDir: string): Holder | undefined => {
  try {
    const value: unknown = JSON.parse(fs.readFileSync(file(dataDir), "utf8"))
    if (typeof value !== "object" || value === null) return undefined
    const { pid, socketDir, role } = { pid: undefined, socketDir: undefined, role: undefined, ...value }
    return typeof pid === "number" && typeof socketDir === "string" && path.isAbsolute(socketDir) &&
        (role === "serve" || role === "cli")
      ? { pid, socketDir, role }
      : undefined
  } catch {
    return undefined
  }
}

// Written afresh so it is 0600 even where an older file was looser (a mode only applies when a file is created).
export const writeHolder = (dataDir: string, holder: Holder) => {
  fs.rmSync(file(dataDir), { force: true })
  fs.writeFileSync(file(dataDir), JSON.stringify(holder), { flag: "wx", mode: 0o600 })
}

export const removeHolder = (dataDir: string) => {
  if (readHolder(dataDir)?.pid === process.pid) fs.rmSync(file(dataDir), { force: true })
}
