import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { CliResult } from "./Cli.ts"
import { repoRoot } from "./Cli.ts"

const sources = (dir: string): Array<string> =>
  fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) return sources(file)
    return entry.name.endsWith(".ts") ? [file] : []
  })

const builtFrom = (source: string) => path.join(repoRoot, "dist", source.replace(/\.ts$/, ".js"))

// `dist/` (what `npm ci` builds and users run) when every source is built and none changed since; otherwise the
// sources through tsx, so a test never runs an older build than the code it checks. The build also has to hold no
// migration the sources lost: the migrator runs whatever file it finds.
const distIsFresh = () => {
  const migrations = sources("migrations")
  const built = fs.existsSync(path.join(repoRoot, "dist", "migrations"))
    ? fs.readdirSync(path.join(repoRoot, "dist", "migrations")).filter((file) => file.endsWith(".js"))
    : []
  return built.length === migrations.length && [...sources("src"), ...migrations].every((source) => {
    const output = builtFrom(source)
    return fs.existsSync(output) && fs.statSync(output).mtimeMs >= fs.statSync(path.join(repoRoot, source)).mtimeMs
  })
}

// The argv that starts `codex-pooler`, with the command's arguments to follow.
export const binary: ReadonlyArray<string> = distIsFresh()
  ? [path.join(repoRoot, "dist", "src", "main.js")]
  : ["--import", "tsx", path.join(repoRoot, "src", "main.ts")]

export const childEnv = (env: Record<string, string>) => ({
  PATH: process.env["PATH"] ?? "",
  HOME: process.env["HOME"] ?? "/tmp",
  ...env
})

// One `codex-pooler` command as a user runs it, configured only through its environment; killed with the scope.
export const runBinary = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.async<CliResult>((resume) => {
    const child = spawn(process.execPath, [...binary, ...args], {
      cwd: repoRoot,
      env: childEnv(env),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", (error) => resume(Effect.die(error)))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })
