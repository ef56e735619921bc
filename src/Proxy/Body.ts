import type { HttpServerRequest } from "@effect/platform"
import { Chunk, Effect, Stream } from "effect"
import { Decompress } from "fzstd"
import { gunzipSync } from "node:zlib"
import { BodyTooLarge, InvalidBody, UnsupportedEncoding } from "./Errors.ts"

export interface RequestBody {
  readonly raw: Uint8Array
  readonly json: Readonly<Record<string, unknown>>
}

const encodingOf = (request: HttpServerRequest.HttpServerRequest) => {
  const value = (request.headers["content-encoding"] ?? "identity").trim().toLowerCase()
  return value === "" ? "identity" : value
}

const readLimited = (request: HttpServerRequest.HttpServerRequest, limit: number) =>
  request.stream.pipe(
    Stream.mapError(() => new InvalidBody({ message: "request body could not be read" })),
    Stream.runFoldEffect({ size: 0, chunks: Chunk.empty<Uint8Array>() }, (acc, chunk) =>
      acc.size + chunk.length > limit
        ? Effect.fail(new BodyTooLarge({ limit }))
        : Effect.succeed({ size: acc.size + chunk.length, chunks: Chunk.append(acc.chunks, chunk) })),
    Effect.map(({ chunks }) => Buffer.concat(Chunk.toReadonlyArray(chunks)))
  )

const unzstd = (raw: Uint8Array, limit: number): Uint8Array => {
  const parts: Array<Uint8Array> = []
  let size = 0
  const decoder = new Decompress((data) => {
    size += data.length
    if (size > limit) throw new BodyTooLarge({ limit })
    parts.push(data)
  })
  decoder.push(raw, true)
  return Buffer.concat(parts)
}

// Compressed bodies are decoded only to be read; the original bytes are what goes upstream.
const decode = (raw: Uint8Array, encoding: string, limit: number) =>
  Effect.try({
    try: () => encoding === "gzip" ? gunzipSync(raw, { maxOutputLength: limit }) : encoding === "zstd" ? unzstd(raw, limit) : raw,
    catch: (error) =>
      error instanceof BodyTooLarge || (error instanceof RangeError && encoding === "gzip")
        ? new BodyTooLarge({ limit })
        : new InvalidBody({ message: `request body is not valid ${encoding}` })
  })

const parseObject = (bytes: Uint8Array) =>
  Effect.try({
    try: (): unknown => JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")),
    catch: () => new InvalidBody({ message: "request body is not valid JSON" })
  }).pipe(
    Effect.filterOrFail(
      (value): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value),
      () => new InvalidBody({ message: "request body must be a JSON object" })
    )
  )

export const readRequestBody = (request: HttpServerRequest.HttpServerRequest, kind: "json" | "raw", limit: number) =>
  Effect.gen(function*() {
    const encoding = encodingOf(request)
    if (encoding !== "identity" && encoding !== "gzip" && encoding !== "zstd") {
      return yield* new UnsupportedEncoding({ encoding })
    }
    if (Number(request.headers["content-length"] ?? 0) > limit) return yield* new BodyTooLarge({ limit })
    const raw = yield* readLimited(request, limit)
    if (raw.length === 0) return yield* new InvalidBody({ message: "request body is empty" })
    if (kind === "raw") return { raw, json: {} } satisfies RequestBody
    const json = yield* parseObject(yield* decode(raw, encoding, limit))
    return { raw, json } satisfies RequestBody
  })
