#!/usr/bin/env node
import { NodeRuntime } from "@effect/platform-node"
import { defaultTeardown } from "@effect/platform/Runtime"
import { Effect } from "effect"
import { runCommandLine } from "./Cli.ts"
import { reportFailure } from "./Cli/Failure.ts"
import * as Logging from "./Logging.ts"

runCommandLine(process.argv, Logging.layer).pipe(
  Effect.catchAll(reportFailure),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    // An interrupted command (Ctrl-C) that set its own exit code ends with it, not with a success's 0.
    teardown: (exit, onExit) =>
      defaultTeardown(
        exit,
        (code) => onExit(code === 0 && typeof process.exitCode === "number" ? process.exitCode : code)
      )
  })
)
