import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Logger } from "effect"
import { Accounts } from "./Accounts.ts"
import { Activity } from "./Activity.ts"
import { accountCommand } from "./Cli/AccountCommands.ts"
import { requestsCommand, statusCommand, usageCommand } from "./Cli/ActivityCommands.ts"
import { keyCommand } from "./Cli/KeyCommands.ts"
import { operatorTokenCommand } from "./Cli/OperatorTokenCommands.ts"
import { poolCommand } from "./Cli/PoolCommands.ts"
import { migrateCommand, serveCommand } from "./Cli/ServeCommands.ts"
import { AllSettings, type LogFormat } from "./Config.ts"
import { Actor } from "./Domain/Actor.ts"
import { FleetRepo } from "./Mcp/FleetRepo.ts"
import { OperatorTokens } from "./OperatorTokens.ts"
import { PoolKeys } from "./PoolKeys.ts"
import { Pools } from "./Pools.ts"
import { Quota } from "./Quota.ts"
import { ResetCredits } from "./ResetCredits.ts"
import { SignIns } from "./SignIns.ts"
import { MigratedSqlLive } from "./Sql.ts"
import * as UpstreamClient from "./UpstreamClient.ts"

// Management commands work on a fresh data dir too: the database is migrated before they run.
// Activity, FleetRepo and Quota give the operator views the MCP tools show too.
const ManagementLive = Layer.mergeAll(
  Pools.Default,
  Accounts.Default,
  PoolKeys.Default,
  OperatorTokens.Default,
  Activity.Default,
  FleetRepo.Default,
  Quota.Default,
  ResetCredits.Default.pipe(Layer.provide(UpstreamClient.layer)),
  SignIns.Default
).pipe(
  Layer.provideMerge(Layer.succeed(Actor, Actor.Cli)),
  Layer.provide(MigratedSqlLive)
)

const managed = <Name extends string, R, E, A>(command: Command.Command<Name, R, E, A>) =>
  Command.provide(command, ManagementLive)

export const rootCommand = Command.make("codex-pooler").pipe(
  Command.withDescription("a self-hosted gateway that pools ChatGPT/Codex accounts behind Pool API keys"),
  Command.withSubcommands([
    serveCommand,
    migrateCommand,
    managed(poolCommand),
    managed(accountCommand),
    managed(keyCommand),
    managed(operatorTokenCommand),
    managed(usageCommand),
    managed(requestsCommand),
    managed(statusCommand)
  ])
)

export const runCli = Command.run(rootCommand, { name: "codex-pooler", version: "0.1.0" })

// The binary's whole run short of its process (main.ts reports the failure and exits), shared with the tests, which
// pass a logging layer of their own. A defect is logged here rather than by runMain, whose reporter would print it
// unredacted to stdout.
export const runCommandLine = <E>(
  argv: ReadonlyArray<string>,
  logging: (format: LogFormat) => Layer.Layer<never, E>
) =>
  AllSettings.pipe(
    Effect.flatMap((settings) =>
      runCli(argv).pipe(
        Logger.withMinimumLogLevel(settings.logLevel),
        Effect.tapDefect((cause) => Effect.logError("unexpected failure", cause)),
        Effect.provide(logging(settings.logFormat))
      )
    ),
    Effect.provide(NodeContext.layer)
  )
