import { Effect } from "effect"
import { accountAdminTools } from "./AccountAdminTools.ts"
import { accountTools } from "./AccountTools.ts"
import { keyAdminTools } from "./KeyAdminTools.ts"
import { keyTools } from "./KeyTools.ts"
import { poolTools } from "./PoolTools.ts"
import { requestTools } from "./RequestTools.ts"
import { signInTools } from "./SignInTools.ts"
import { statusTools } from "./StatusTools.ts"

export const allTools = Effect.map(
  Effect.all([
    statusTools,
    poolTools,
    accountTools,
    accountAdminTools,
    signInTools,
    keyTools,
    keyAdminTools,
    requestTools
  ]),
  (groups) => groups.flat()
)
