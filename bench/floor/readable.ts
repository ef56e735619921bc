import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeStream } from "@effect/platform-node"
import { Effect } from "effect"
import { readAtOnce } from "./body.ts"
import { forward, UpstreamFailed } from "./forward.ts"

// The body read in one step; the upstream body as a node Readable stream, each pull taking all it has buffered.
// `record` runs between the two, before anything is sent upstream.
export const readableProxy = <E, R>(
  record: (request: HttpServerRequest.HttpServerRequest, body: Buffer) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const body = yield* readAtOnce(request)
    yield* record(request, body)
    const answer = yield* forward(body)
    const stream = NodeStream.fromReadable(() => answer.body, (cause) => new UpstreamFailed({ cause }))
    return HttpServerResponse.stream(stream, answer.options)
  })
