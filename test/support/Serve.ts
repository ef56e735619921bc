import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { repoRoot } from "./Cli.ts"

export interface RunningGateway {
  readonly url: string
  readonly child: ChildProcess
  readonly output: () => string
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

// `codex-pooler serve` as a separate process on an ephemeral port; the port is read from its "Listening on" log line.
export const startGateway = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.async<RunningGateway, Error>((resume) => {
      const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "serve"], {
        cwd: repoRoot,
        env: {
          PATH: process.env["PATH"] ?? "",
          HOME: process.env["HOME"] ?? "/tmp",
          PORT: "0",
          CODEX_POOLER_USAGE_POLL_SECONDS: "0",
          ...env
        },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      const stop = (signal: NodeJS.Signals = "SIGTERM") => {
        if (child.exitCode === null) child.kill(signal)
        return exited
      }
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        const match = /Listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
        if (match?.[1]) resume(Effect.succeed({ url: match[1], child, output: () => output, stop }))
      }
      child.stdout.on("data", onData)
      child.stderr.on("data", onData)
      void exited.then((code) => resume(Effect.fail(new Error(`gateway exited with ${code}: ${output}`))))
    }),
    (gateway) => Effect.promise(() => gateway.stop("SIGKILL"))
  )
