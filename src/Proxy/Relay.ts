import { Chunk, Effect, Exit, Stream } from "effect"
import { usageOf } from "../Accounting/Usage.ts"
import type { UpstreamUnavailable } from "./Errors.ts"
import { errorBodyLimit, parseJson } from "./Json.ts"
import { emptyFacts, errorCodeOf, makeSseTap, type StreamFacts } from "./SseTap.ts"
import { makeTopLevelValue } from "./TopLevelValue.ts"

export interface RelayEnd {
  readonly facts: StreamFacts
  readonly firstByteAt: Date | null
  readonly interrupted: boolean
  readonly upstreamFailed: boolean
}

// Non-stream bodies: an upstream error is read for its error code, within a bound; any other answer (compact) is
// scanned as it passes for its top-level `usage`, which counts toward the key's tokens per day like a stream's.
const makeJsonTap = (facts: StreamFacts, isError: boolean) => {
  const parts: Array<Uint8Array> = []
  let size = 0
  const usage = makeTopLevelValue("usage", errorBodyLimit)
  return {
    observe: (chunk: Uint8Array) => {
      if (!isError) return usage.observe(chunk)
      if (size + chunk.length <= errorBodyLimit) parts.push(chunk)
      size += chunk.length
    },
    finish: () => {
      if (isError) {
        if (size <= errorBodyLimit) facts.errorCode = errorCodeOf(parseJson(Buffer.concat(parts)))
        return
      }
      const value = usage.value()
      if (value !== null) facts.usage = usageOf(parseJson(value))
    }
  }
}

// The client's stream ends with an event Codex treats as retryable (any response.failed code but the few fatal ones,
// codex-protocol.md §4), after a blank line so a half-sent event is dropped as unparseable.
const interruptedEvent = (requestId: string) =>
  new TextEncoder().encode(
    `\n\nevent: response.failed\ndata: ${
      JSON.stringify({
        type: "response.failed",
        response: {
          id: `resp_${requestId}`,
          status: "failed",
          error: { code: "upstream_stream_interrupted", message: "The Codex backend connection was lost mid-response." }
        }
      })
    }\n\n`
  )

// A surface that answers in its own format (/v1): fed each upstream event, it says what the client gets instead of
// upstream's bytes, and at the end what closes the answer (after a cut stream, its error).
export interface Translator {
  readonly event: (data: string) => void
  readonly take: () => Uint8Array | null
  readonly end: (upstreamFailed: boolean) => Uint8Array | null
}

const chunkOf = (bytes: Uint8Array | null) => bytes === null || bytes.length === 0 ? Chunk.empty() : Chunk.of(bytes)

// One relay for every route: bytes pass through untouched and unbuffered (or, for a translated event stream, as the
// translator makes them); a side tap learns usage and errors; `onEnd` always runs, whether the stream completed,
// upstream failed, or the client went away.
export const relay = (options: {
  readonly requestId: string
  readonly body: Stream.Stream<Uint8Array, UpstreamUnavailable>
  readonly eventStream: boolean
  readonly isError: boolean
  readonly onEnd: (end: RelayEnd) => Effect.Effect<void>
  readonly translator?: Translator
}): Stream.Stream<Uint8Array> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const facts = emptyFacts()
    const json = makeJsonTap(facts, options.isError)
    const translator = options.eventStream ? options.translator : undefined
    const observe = options.eventStream ? makeSseTap(facts, undefined, translator?.event) : json.observe
    let firstByteAt: Date | null = null
    let upstreamFailed = false
    yield* Effect.addFinalizer((exit) =>
      Effect.suspend(() => {
        if (!options.eventStream) json.finish()
        return options.onEnd({ facts, firstByteAt, interrupted: Exit.isInterrupted(exit), upstreamFailed })
      })
    )
    if (translator !== undefined) {
      return options.body.pipe(
        Stream.mapChunks((chunks) => {
          firstByteAt ??= new Date()
          for (const chunk of chunks) observe(chunk)
          return chunkOf(translator.take())
        }),
        Stream.catchAll(() => {
          upstreamFailed = true
          return Stream.empty
        }),
        Stream.concat(Stream.suspend(() => Stream.fromChunk(chunkOf(translator.end(upstreamFailed)))))
      )
    }
    return options.body.pipe(
      Stream.mapChunks((chunks) => {
        firstByteAt ??= new Date()
        for (const chunk of chunks) observe(chunk)
        // Bytes that arrived together leave together: one write to the client instead of one per upstream read.
        return chunks.length > 1 ? Chunk.of(Buffer.concat(Chunk.toReadonlyArray(chunks))) : chunks
      }),
      Stream.catchAll(() => {
        upstreamFailed = true
        return options.eventStream ? Stream.make(interruptedEvent(options.requestId)) : Stream.empty
      })
    )
  }))
