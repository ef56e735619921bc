import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option, Stream } from "effect"
import { readFolded } from "./body.ts"
import { forward, path, UpstreamFailed } from "./forward.ts"
import { serve } from "./serve.ts"

// What the gateway does today: the body folded from request.stream, the upstream body pulled one promise per chunk.
const chunks = (body: AsyncIterable<Buffer>) => {
  const iterator = body[Symbol.asyncIterator]()
  return Stream.repeatEffectOption(
    Effect.tryPromise({
      try: () => iterator.next(),
      catch: (cause) => Option.some(new UpstreamFailed({ cause }))
    }).pipe(Effect.flatMap((next) => next.done ? Effect.fail(Option.none()) : Effect.succeed(next.value)))
  )
}

const proxy = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const answer = yield* forward(yield* readFolded(request))
  return HttpServerResponse.stream(chunks(answer.body), answer.options)
})

serve("effect-stream", HttpLayerRouter.add("POST", path, proxy))
