import type { HttpServerRequest } from "@effect/platform"
import { Chunk, Data, Effect, Stream } from "effect"
import { readNodeBody } from "../../src/Http/NodeBody.ts"

export class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<{ readonly limit: number }> {}
export class BodyUnreadable extends Data.TaggedError("BodyUnreadable")<{ readonly cause: unknown }> {}

export const limit = 50 * 1024 * 1024

// As the gateway reads a body today: one fold step per chunk of `request.stream`.
export const readFolded = (request: HttpServerRequest.HttpServerRequest) =>
  request.stream.pipe(
    Stream.mapError((cause) => new BodyUnreadable({ cause })),
    Stream.runFoldEffect({ size: 0, chunks: Chunk.empty<Uint8Array>() }, (acc, chunk) =>
      acc.size + chunk.length > limit
        ? Effect.fail(new BodyTooLarge({ limit }))
        : Effect.succeed({ size: acc.size + chunk.length, chunks: Chunk.append(acc.chunks, chunk) })),
    Effect.map(({ chunks }) => Buffer.concat(Chunk.toReadonlyArray(chunks)))
  )

// The whole body in one asynchronous step, as the gateway now reads it.
export const readAtOnce = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.mapError(
    readNodeBody(request, limit),
    (failure) => failure._tag === "TooLarge" ? new BodyTooLarge({ limit }) : new BodyUnreadable({ cause: failure })
  )
