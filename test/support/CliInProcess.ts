import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Console, Effect, Layer, Logger } from "effect"
import { Console as NodeConsole } from "node:console"
import { Writable } from "node:stream"
import { runCommandLine } from "../../src/Cli.ts"
import { failureReport } from "../../src/Cli/Failure.ts"
import type { LogFormat } from "../../src/Config.ts"
import * as Logging from "../../src/Logging.ts"
import { SqlLive } from "../../src/Sql.ts"
import type { CliResult } from "./Cli.ts"
import { configFrom } from "./Databases.ts"

const collector = (chunks: Array<string>) =>
  new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString())
      done()
    }
  })

// An Effect Console over a Node console whose streams are strings, as @effect/cli and the commands print through it.
const capturingConsole = (unsafe: InstanceType<typeof NodeConsole>): Console.Console => ({
  [Console.TypeId]: Console.TypeId,
  assert: (condition, ...args) => Effect.sync(() => unsafe.assert(condition, ...args)),
  clear: Effect.sync(() => unsafe.clear()),
  count: (label) => Effect.sync(() => unsafe.count(label)),
  countReset: (label) => Effect.sync(() => unsafe.countReset(label)),
  debug: (...args) => Effect.sync(() => unsafe.debug(...args)),
  dir: (item, options) => Effect.sync(() => unsafe.dir(item, options)),
  dirxml: (...args) => Effect.sync(() => unsafe.dirxml(...args)),
  error: (...args) => Effect.sync(() => unsafe.error(...args)),
  group: (options) =>
    Effect.sync(() =>
      options?.collapsed === true ? unsafe.groupCollapsed(options.label) : unsafe.group(options?.label)
    ),
  groupEnd: Effect.sync(() => unsafe.groupEnd()),
  info: (...args) => Effect.sync(() => unsafe.info(...args)),
  log: (...args) => Effect.sync(() => unsafe.log(...args)),
  table: (data, properties) => Effect.sync(() => unsafe.table(data, properties)),
  time: (label) => Effect.sync(() => unsafe.time(label)),
  timeEnd: (label) => Effect.sync(() => unsafe.timeEnd(label)),
  timeLog: (label, ...args) => Effect.sync(() => unsafe.timeLog(label, ...args)),
  trace: (...args) => Effect.sync(() => unsafe.trace(...args)),
  warn: (...args) => Effect.sync(() => unsafe.warn(...args)),
  unsafe
})

// The operator CLI run in this process through the binary's own pipeline (src/Cli.ts `runCommandLine`), configured
// only by `env` as a child process would be: what it prints, every log line it writes (to stderr, redacted, as the
// binary does) and the exit code the binary would end with. The embedded data dir is released when it returns.
export const cliInProcess = (args: ReadonlyArray<string>, env: Record<string, string>): Effect.Effect<CliResult> =>
  Effect.suspend(() => {
    const stdout: Array<string> = []
    const stderr: Array<string> = []
    const console = new NodeConsole({ stdout: collector(stdout), stderr: collector(stderr), colorMode: false })
    const logging = (format: LogFormat) =>
      format === "pretty"
        ? Logging.layer(format)
        : Logger.replace(Logger.defaultLogger, Logging.lineLogger(format, (line) => stderr.push(`${line}\n`)))
    return runCommandLine(["node", "codex-pooler", ...args], logging).pipe(
      Effect.as(0),
      Effect.catchAll((error) => {
        const report = failureReport(error)
        stderr.push(report.stderr)
        return Effect.succeed(report.exitCode)
      }),
      // A defect was logged by the pipeline; the binary's runtime then exits with 1.
      Effect.catchAllDefect(() => Effect.succeed(1)),
      Effect.withConsole(capturingConsole(console)),
      // The wall clock, as the binary has, even under it.effect's TestClock: `usage --since` and the data dir's wait.
      Effect.withClock(Clock.make()),
      // Without LOG_FORMAT the binary writes logfmt to a piped stderr, as a child process's is; this one's may be a TTY.
      Effect.provide(configFrom({ LOG_FORMAT: "logfmt", ...env })),
      Effect.map((code): CliResult => ({ code, stdout: stdout.join(""), stderr: stderr.join("") }))
    )
  })

// The test reaches the database between CLI runs, never during one: an embedded data dir has one holder at a time.
export const queryBetweenRuns = <A>(
  env: Record<string, string>,
  statement: (sql: SqlClient.SqlClient) => Effect.Effect<A, SqlError>
) =>
  Effect.flatMap(SqlClient.SqlClient, statement).pipe(
    Effect.provide(SqlLive.pipe(Layer.provide(configFrom(env)))),
    Effect.scoped,
    Effect.orDie
  )
