import * as fs from "node:fs"
import * as path from "node:path"

export interface Holder {
  readonly pid: number
  readonly port: number
  readonly role: "serve" | "cli"
}

const file = (dataDir: string) => path.join(dataDir, "embedded-server.json")

export const readHolder = (dataDir: string): Holder | undefined => {
  try {
    const value: unknown = JSON.parse(fs.readFileSync(file(dataDir), "utf8"))
    if (typeof value !== "object" || value === null) return undefined
    const { pid, port, role } = { pid: undefined, port: undefined, role: undefined, ...value }
    return typeof pid === "number" && typeof port === "number" && (role === "serve" || role === "cli")
      ? { pid, port, role }
      : undefined
  } catch {
    return undefined
  }
}

export const writeHolder = (dataDir: string, holder: Holder) =>
  fs.writeFileSync(file(dataDir), JSON.stringify(holder), { mode: 0o600 })

export const removeHolder = (dataDir: string) => {
  if (readHolder(dataDir)?.pid === process.pid) fs.rmSync(file(dataDir), { force: true })
}
