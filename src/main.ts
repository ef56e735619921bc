#!/usr/bin/env node
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger } from "effect"
import { runCli } from "./Cli.ts"
import { reportFailure } from "./Cli/Failure.ts"
import { AllSettings } from "./Config.ts"

// Logs go to stderr so that stdout carries only what a command prints (tables, --json, secrets).
const StderrLogger = Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true }))

AllSettings.pipe(
  Effect.flatMap((settings) => Logger.withMinimumLogLevel(runCli(process.argv), settings.logLevel)),
  Effect.provide(Layer.merge(NodeContext.layer, StderrLogger)),
  Effect.catchAll(reportFailure),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
