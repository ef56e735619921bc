import { Layer } from "effect"
import { Accounts } from "../../src/Accounts.ts"
import { Actor } from "../../src/Domain/Actor.ts"
import { OperatorTokens } from "../../src/OperatorTokens.ts"
import { PoolKeys } from "../../src/PoolKeys.ts"
import { Pools } from "../../src/Pools.ts"

export const ManagementServices = Layer.mergeAll(
  Pools.Default,
  Accounts.Default,
  PoolKeys.Default,
  OperatorTokens.Default,
  Layer.succeed(Actor, Actor.Cli)
)
