import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { readAtOnce } from "./body.ts"
import { forward, path } from "./forward.ts"
import { serve } from "./serve.ts"

// effect-readable without an Effect Stream: the platform pipes undici's body into node's response.
const proxy = Effect.gen(function*() {
  const answer = yield* forward(yield* readAtOnce(yield* HttpServerRequest.HttpServerRequest))
  return HttpServerResponse.raw(answer.body, answer.options)
})

serve("effect-raw", HttpLayerRouter.add("POST", path, proxy))
