import { HttpServerRequest } from "@effect/platform"
import { Data, Effect } from "effect"
import type { Readable } from "node:stream"
import { agent, responseHeaders, upstreamHeaders, upstreamOrigin } from "./upstream.ts"

export const path = "/backend-api/codex/responses"

export class UpstreamFailed extends Data.TaggedError("UpstreamFailed")<{ readonly cause: unknown }> {}

// The client's body, sent upstream by undici with the account's Authorization, as the gateway's UpstreamClient does.
// The answer's status and headers come as response options; its body is destroyed when the request's scope closes.
export const forward = (body: Uint8Array) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    let arrived: Readable | undefined
    yield* Effect.addFinalizer(() => Effect.sync(() => arrived?.destroy()))
    return yield* Effect.tryPromise({
      try: (signal) =>
        agent.request({
          origin: upstreamOrigin,
          path: request.url,
          method: "POST",
          headers: upstreamHeaders(request.headers),
          body,
          signal
        }).then((answer) => {
          arrived = answer.body
          const options = { status: answer.statusCode, headers: responseHeaders(answer.headers) }
          return { options, body: answer.body }
        }),
      catch: (cause) => new UpstreamFailed({ cause })
    })
  })
