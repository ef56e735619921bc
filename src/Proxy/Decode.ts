import { Effect, Either } from "effect"
import { Decompress } from "fzstd"
import * as zlib from "node:zlib"
import { BodyTooLarge, InvalidBody } from "./Errors.ts"
import { scanZstd } from "./ZstdFrames.ts"

// A frame may name a window this much larger than the body limit: what zstd's own levels 1-19 pick when they do not
// know the input's size (at most 8 MiB) decodes; a window named only to make the decoder allocate does not.
export const zstdWindowSlackBytes = 8 * 1024 * 1024
// fzstd shifts its window once per block: the whole decode may cost what this many full windows would, and it runs
// in pieces of about `sliceWork`, the event loop served between them.
const fzstdWorkWindows = 64
const sliceWork = 32 * 1024 * 1024

type Callback = (error: Error | null, result: Buffer) => void
type ZstdDecompress = (
  buffer: Uint8Array,
  options: { readonly maxOutputLength: number; readonly params: Record<number, number> },
  callback: Callback
) => void
const isZstdDecompress = (value: unknown): value is ZstdDecompress => typeof value === "function"
// node:zlib has zstd from Node 22.15 / 23.8; on older runtimes fzstd decodes instead.
const nativeZstd = "zstdDecompress" in zlib && isZstdDecompress(zlib.zstdDecompress) ? zlib.zstdDecompress : undefined
const windowLogMax = Object.entries(zlib.constants).find(([name]) => name === "ZSTD_d_windowLogMax")?.[1]

const invalid = (encoding: string) => new InvalidBody({ message: `request body is not valid ${encoding}` })

// zlib's own thread pool decodes; past the limit it stops with a RangeError (ERR_BUFFER_TOO_LARGE).
const viaZlib = (encoding: string, limit: number, run: (callback: Callback) => void) =>
  Effect.async<Buffer, BodyTooLarge | InvalidBody>((resume) =>
    run((error, result) =>
      resume(
        error === null
          ? Effect.succeed(result)
          : Effect.fail(error instanceof RangeError ? new BodyTooLarge({ limit }) : invalid(encoding))
      )
    )
  )

const gunzip = (raw: Uint8Array, limit: number) =>
  viaZlib("gzip", limit, (callback) => zlib.gunzip(raw, { maxOutputLength: limit }, callback))

// Effect.yieldNow may resume on a microtask; this lets the event loop poll for I/O (other requests) first.
const turnOfTheEventLoop = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

// fzstd is synchronous: it is fed a piece at a time, at block boundaries, yielding to other fibers between pieces.
const fzstd = (raw: Uint8Array, limit: number, cuts: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const parts: Array<Uint8Array> = []
    let size = 0
    const decoder = new Decompress((data) => {
      size += data.length
      // Thrown out of push, so decoding stops at the block that crossed the limit.
      if (size > limit) throw new BodyTooLarge({ limit })
      parts.push(data)
    })
    const push = (from: number, to: number, final: boolean) =>
      Effect.try({
        try: () => decoder.push(raw.subarray(from, to), final),
        catch: (error) => error instanceof BodyTooLarge ? error : invalid("zstd")
      })
    let from = 0
    for (const cut of cuts) {
      yield* push(from, cut, false)
      from = cut
      yield* turnOfTheEventLoop
    }
    yield* push(from, raw.length, true)
    return Buffer.concat(parts)
  })

// The frame headers are read first: a window or a declared size past the bounds is refused before any decoding.
const unzstd = (raw: Uint8Array, limit: number) =>
  Effect.gen(function*() {
    const windowBytes = limit + zstdWindowSlackBytes
    const scan = scanZstd(raw, {
      windowBytes,
      contentBytes: limit,
      workBytes: nativeZstd === undefined ? fzstdWorkWindows * windowBytes : Infinity,
      sliceWork: nativeZstd === undefined ? sliceWork : Infinity
    })
    if (Either.isLeft(scan)) {
      return yield* scan.left._tag === "TooLarge" ? new BodyTooLarge({ limit }) : invalid("zstd")
    }
    if (nativeZstd === undefined) return yield* fzstd(raw, limit, scan.right.cuts)
    const decode = nativeZstd
    const windowLog = Math.min(31, Math.max(10, Math.ceil(Math.log2(Math.max(1, scan.right.windowBytes)))))
    const params: Record<number, number> = windowLogMax === undefined ? {} : { [windowLogMax]: windowLog }
    const parts: Array<Buffer> = []
    let size = 0
    for (const [start, end] of scan.right.frames) {
      const maxOutputLength = limit - size
      const part = yield* viaZlib("zstd", limit, (callback) =>
        decode(raw.subarray(start, end), { maxOutputLength: Math.max(1, maxOutputLength), params }, callback))
      size += part.length
      if (size > limit) {
        return yield* new BodyTooLarge({ limit })
      }
      parts.push(part)
    }
    return Buffer.concat(parts)
  })

// Compressed bodies are decoded only to be read; the original bytes are what goes upstream.
export const decodeBody = (raw: Uint8Array, encoding: string, limit: number) =>
  encoding === "gzip" ? gunzip(raw, limit) : encoding === "zstd" ? unzstd(raw, limit) : Effect.succeed(raw)
