import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

// Child processes of the benchmark, their CPU and memory, and cleanup that also runs on error and SIGINT.
export const root = fileURLToPath(new URL("../", import.meta.url))

const children = new Set<ChildProcess>()
const cleanups: Array<() => Promise<void>> = []
const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
const maxOutput = 256 * 1024

export interface Started {
  readonly child: ChildProcess
  readonly pid: number
  readonly match: RegExpExecArray
  readonly output: () => string
}

const baseEnv = () => ({ PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp" })

// Node with `args`, resolved once its stdout/stderr matches `ready`. stdin stays open: our own children exit when it closes.
export const start = (args: ReadonlyArray<string>, env: Record<string, string>, ready: RegExp, timeoutMs = 60_000) =>
  new Promise<Started>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...baseEnv(), ...env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    children.add(child)
    let output = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${args.join(" ")} not ready after ${timeoutMs} ms:\n${output}`))
    }, timeoutMs)
    const onData = (chunk: Buffer) => {
      if (output.length < maxOutput) output += chunk.toString()
      const match = ready.exec(output)
      if (match !== null && child.pid !== undefined) {
        clearTimeout(timer)
        resolve({ child, pid: child.pid, match, output: () => output })
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    child.on("exit", (code, signal) => {
      children.delete(child)
      clearTimeout(timer)
      reject(new Error(`${args.join(" ")} exited (${code ?? signal}):\n${output}`))
    })
  })

// SIGTERM, then SIGKILL if it has not exited within `graceMs`.
export const stop = (child: ChildProcess, graceMs = 10_000) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGTERM")
  })

// A one-shot command (the operator CLI, the build); rejects on a non-zero exit.
export const run = (command: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.add(child)
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) => {
      children.delete(child)
      if (code === 0) resolve(stdout)
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}:\n${stdout}${stderr}`))
    })
  })

// utime + stime of a process, in ms.
export const cpuMs = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 1000 / clockTicks
}

export const rssMb = (pid: number) => {
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return Number(line?.[1] ?? Number.NaN) / 1024
}

export const onCleanup = (cleanup: () => Promise<void>) => {
  cleanups.push(cleanup)
}

// Stops every child still running, then runs the registered cleanups (newest first), each once.
export const cleanupAll = async () => {
  await Promise.all([...children].map((child) => stop(child, 5_000)))
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch((error: unknown) => process.stderr.write(`cleanup failed: ${String(error)}\n`))
  }
}

process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL")
})

// Runs a bench's main with every child and cleanup released on its end, its failure, SIGINT or SIGTERM.
export const runBench = async (label: string, main: () => Promise<void>) => {
  let interrupted = false
  const interrupt = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    process.stderr.write(`${signal}: stopping\n`)
    void cleanupAll().finally(() => process.exit(130))
  }
  process.on("SIGINT", interrupt)
  process.on("SIGTERM", interrupt)
  await main().then(
    () => cleanupAll(),
    async (error: unknown) => {
      // After a signal the children are going away under the load; the cleanup under way says why.
      if (interrupted) return
      process.stderr.write(
        `${label} failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`
      )
      await cleanupAll()
      process.exitCode = 1
    }
  )
}
