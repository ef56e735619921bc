#!/usr/bin/env node
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { runCommandLine } from "./Cli.ts"
import { reportFailure } from "./Cli/Failure.ts"
import * as Logging from "./Logging.ts"

runCommandLine(process.argv, Logging.layer).pipe(
  Effect.catchAll(reportFailure),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
