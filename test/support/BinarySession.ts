import { Deferred, Effect, Exit } from "effect"
import { spawn } from "node:child_process"
import { binary, childEnv } from "./Binary.ts"
import type { CliResult } from "./Cli.ts"
import { repoRoot } from "./Cli.ts"

export interface BinarySession {
  // The first whole stdout line matching `pattern`, once printed; a defect if the process ends without it.
  readonly line: (pattern: RegExp) => Effect.Effect<string>
  readonly write: (text: string) => Effect.Effect<void>
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  readonly exit: Effect.Effect<CliResult>
}

// One `codex-pooler` command as a user runs it at a terminal (Binary.ts's argv and environment), with stdin to type
// into and stdout read as it comes; killed with the scope if it is still running.
export const startBinary = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.gen(function*() {
    const exited = yield* Deferred.make<CliResult>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [...binary, ...args], { cwd: repoRoot, env: childEnv(env), stdio: "pipe" })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    let stdout = ""
    let stderr = ""
    let result: CliResult | undefined
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    // Typing into a process that already ended is the test's mistake to see in the exit, not a crash of the worker.
    child.stdin.on("error", () => undefined)
    child.on("error", (error) => Deferred.unsafeDone(exited, Exit.die(error)))
    child.on("close", (code) => {
      result = { code, stdout, stderr }
      Deferred.unsafeDone(exited, Exit.succeed(result))
    })

    const line = (pattern: RegExp) =>
      Effect.async<string>((resume) => {
        const check = () => {
          const found = stdout.split("\n").slice(0, -1).find((printed) => pattern.test(printed))
          if (found === undefined && result === undefined) return
          stop()
          resume(
            found !== undefined ? Effect.succeed(found) : Effect.dieMessage(
              `exited ${result?.code} without a line matching ${pattern}; stdout: ${stdout}; stderr: ${stderr}`
            )
          )
        }
        const stop = () => {
          child.stdout.off("data", check)
          child.off("close", check)
        }
        child.stdout.on("data", check)
        child.on("close", check)
        check()
        return Effect.sync(stop)
      })

    return {
      line,
      write: (text) => Effect.sync(() => child.stdin.write(text)),
      signal: (signal) => Effect.sync(() => child.kill(signal)),
      exit: Deferred.await(exited)
    } satisfies BinarySession
  })
