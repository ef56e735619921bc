import { Effect, Stream } from "effect"

// Upstream error bodies are small; past this many bytes they are not read for an error code.
export const errorBodyLimit = 64 * 1024

// Upstream error bodies are read as JSON when they are JSON; anything else counts as no body.
export const parseJson = (body: Uint8Array): unknown => {
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"))
  } catch {
    return null
  }
}

// A small upstream body, read up to the error-body bound (what lies past it is not read), with its JSON if it is
// JSON. A body that fails midway counts as what was read before.
export const readSmallBody = <E>(body: Stream.Stream<Uint8Array, E>) =>
  Stream.runFoldWhile(
    body,
    { size: 0, parts: Array.of<Uint8Array>() },
    (read) => read.size < errorBodyLimit,
    (read, chunk) => ({ size: read.size + chunk.length, parts: [...read.parts, chunk] })
  ).pipe(
    Effect.map((read) => Buffer.concat(read.parts)),
    Effect.orElseSucceed(() => Buffer.alloc(0)),
    Effect.map((bytes) => ({ bytes, json: parseJson(bytes) }))
  )
