#!/usr/bin/env node
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger } from "effect"
import { runCli } from "./Cli.ts"
import { reportFailure } from "./Cli/Failure.ts"
import { Level } from "./Config.ts"

const LogLevelLive = Layer.unwrapEffect(Effect.map(Level, Logger.minimumLogLevel))

runCli(process.argv).pipe(
  Effect.provide(Layer.mergeAll(NodeContext.layer, LogLevelLive)),
  Effect.catchAll(reportFailure),
  NodeRuntime.runMain
)
