import { HttpLayerRouter } from "@effect/platform"
import { Effect } from "effect"
import { path } from "./forward.ts"
import { readableProxy } from "./readable.ts"
import { serve } from "./serve.ts"

serve("effect-readable", HttpLayerRouter.add("POST", path, readableProxy(() => Effect.void)))
