#!/usr/bin/env node
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Logger } from "effect"
import { runCli } from "./Cli.ts"
import { reportFailure } from "./Cli/Failure.ts"
import { AllSettings } from "./Config.ts"
import * as Logging from "./Logging.ts"

// A defect is logged here rather than by runMain, whose reporter would print it unredacted to stdout.
AllSettings.pipe(
  Effect.flatMap((settings) =>
    runCli(process.argv).pipe(
      Logger.withMinimumLogLevel(settings.logLevel),
      Effect.tapDefect((cause) => Effect.logError("unexpected failure", cause)),
      Effect.provide(Logging.layer(settings.logFormat))
    )
  ),
  Effect.provide(NodeContext.layer),
  Effect.catchAll(reportFailure),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
