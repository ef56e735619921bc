import fc from "fast-check"
import { brotliCompressSync as brotli, constants, gzipSync } from "node:zlib"
import { allowedModel, forbiddenModel, maxBodyBytes } from "./BadInput.ts"
import { responsesBody } from "./Requests.ts"

// Request bodies and their Content-Encoding, each labelled with whether the gateway must refuse it before upstream.

export interface Body {
  readonly label: string
  readonly bytes: Uint8Array
  readonly encoding?: string
  // A body no route may relay: not a JSON object, not decodable, or larger than the limit once decoded.
  readonly malformed: boolean
}

const text = (value: string) => Buffer.from(value, "utf8")
const brotliCompressSync = (value: string) => brotli(value, { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } })

// zstd frames written by hand (RFC 8878), so Node 20 without a zstd encoder can send them: raw blocks carry bytes as
// they are, an RLE block repeats one byte up to 128 KiB, and the header's window or content size can claim anything.
const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd])
const blockHeader = (type: number, size: number, last: boolean) => {
  const value = (size << 3) | (type << 1) | (last ? 1 : 0)
  return Buffer.from([value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff])
}
// Window size is 2^log plus mantissa eighths of it; fzstd's 32-bit arithmetic overflows (and refuses) from 2 GiB on.
const windowDescriptor = (log: number, mantissa = 0) => Buffer.from([((log - 10) << 3) | mantissa])

export const zstdRaw = (payload: Uint8Array) => {
  const blocks: Array<Buffer> = []
  for (let at = 0; at < payload.length || at === 0; at += 65_536) {
    const part = payload.subarray(at, at + 65_536)
    blocks.push(blockHeader(0, part.length, at + 65_536 >= payload.length), Buffer.from(part))
    if (payload.length === 0) break
  }
  return Buffer.concat([zstdMagic, Buffer.from([0x00]), windowDescriptor(17), ...blocks])
}

// `blocks` RLE blocks of 128 KiB each: a few bytes per block on the wire.
export const zstdRle = (blocks: number, windowLog = 17, mantissa = 0) =>
  Buffer.concat([
    zstdMagic,
    Buffer.from([0x00]),
    windowDescriptor(windowLog, mantissa),
    ...Array.from({ length: blocks }, (_, index) =>
      Buffer.concat([blockHeader(1, 131_072, index === blocks - 1), Buffer.from([0x20])]))
  ])

// A single-segment frame whose content size field claims `size` bytes.
export const zstdClaimedSize = (size: bigint) => {
  const field = Buffer.alloc(8)
  field.writeBigUInt64LE(size)
  return Buffer.concat([zstdMagic, Buffer.from([0xe0]), field, blockHeader(1, 1024, true), Buffer.from([0x20])])
}

const jsonValue = fc.jsonValue({ maxDepth: 3 })
const validBody = (extra: Record<string, unknown> = {}) => JSON.stringify(responsesBody("hi", extra))
const overLimit = () => `{"model":"${allowedModel}","input":[],"pad":"${"a".repeat(maxBodyBytes * 8)}"}`

const duplicateModel = `"model":"${allowedModel}","model":"${forbiddenModel}"`

const wrongTypes = fc.record({
  model: fc.oneof(fc.integer(), fc.constantFrom<unknown>(null, [forbiddenModel], { name: forbiddenModel })),
  input: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.constant({ text: "x" })),
  stream: fc.oneof(fc.constant("yes"), fc.integer(), fc.constant(null))
}, { requiredKeys: [] })

// JSON objects an upstream route may relay (possibly to an upstream 4xx): Codex's body with odd or wrong fields.
const objects = fc.oneof(
  fc.constant({ label: "codex body", bytes: text(validBody()), malformed: false }),
  wrongTypes.map((fields) => ({
    label: `wrong types ${JSON.stringify(fields)}`,
    bytes: text(validBody(fields)),
    malformed: false
  })),
  fc.constant({ label: "forbidden model", bytes: text(validBody({ model: forbiddenModel })), malformed: false }),
  fc.constant({
    label: "duplicate model key",
    bytes: text(validBody().replace(`"model":"${allowedModel}"`, duplicateModel)),
    malformed: false
  }),
  fc.dictionary(fc.string({ maxLength: 8 }), jsonValue, { maxKeys: 4 }).map((value) => ({
    label: "random object",
    bytes: text(JSON.stringify(value)),
    malformed: false
  }))
)

const malformed = fc.oneof(
  fc.integer({ min: 0, max: validBody().length - 1 }).map((cut) => ({
    label: `truncated at ${cut}`,
    bytes: text(validBody().slice(0, cut)),
    malformed: true
  })),
  jsonValue.filter((value) => typeof value !== "object" || value === null || Array.isArray(value)).map((value) => ({
    label: `non-object ${JSON.stringify(value)}`.slice(0, 80),
    bytes: text(JSON.stringify(value)),
    malformed: true
  })),
  fc.integer({ min: 1_000, max: 200_000 }).map((depth) => ({
    label: `nesting ${depth}`,
    bytes: text(`{"model":"${allowedModel}","input":${"[".repeat(depth)}${"]".repeat(depth)}}`),
    malformed: false
  })),
  fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]).map((bad) => ({
    label: `invalid UTF-8 ${JSON.stringify(bad)}`,
    bytes: Buffer.concat([text(`{"model":"${allowedModel}","input":[],"x":"`), Buffer.from(bad), text(`"}`)]),
    malformed: true
  })),
  fc.uint8Array({ minLength: 1, maxLength: 512 }).map((bytes) => ({ label: "random bytes", bytes, malformed: true })),
  fc.constant({ label: "over the body limit", bytes: text(overLimit().slice(0, maxBodyBytes + 4096)), malformed: true })
)

const encoded = fc.oneof(
  fc.constant({ label: "gzip", bytes: gzipSync(validBody()), encoding: "gzip", malformed: false }),
  fc.constant({ label: "zstd", bytes: zstdRaw(text(validBody())), encoding: "zstd", malformed: false }),
  fc.constant({ label: "br", bytes: brotliCompressSync(validBody()), encoding: "br", malformed: false }),
  fc.constant({ label: "gzip, zstd", bytes: zstdRaw(gzipSync(validBody())), encoding: "gzip, zstd", malformed: false }),
  fc.constantFrom("gzip", "zstd", "br", "deflate", "gzip, zstd", "x-garbage", "GZIP", "gzip;q=1", "", "identity, gzip")
    .chain((encoding) =>
      fc.uint8Array({ maxLength: 256 }).map((bytes) => ({
        label: `junk as ${encoding}`,
        bytes,
        encoding,
        malformed: true
      }))
    ),
  fc.integer({ min: 1, max: 40 }).map((cut) => ({
    label: `truncated gzip at ${cut}`,
    bytes: gzipSync(validBody()).subarray(0, cut),
    encoding: "gzip",
    malformed: true
  })),
  fc.constant({ label: "gzip bomb (8 MiB)", bytes: gzipSync(overLimit()), encoding: "gzip", malformed: true }),
  fc.constant({ label: "zstd RLE bomb (64 MiB)", bytes: zstdRle(512), encoding: "zstd", malformed: true }),
  fc.constant({ label: "zstd 1.9 GiB window", bytes: zstdRle(1, 30, 7), encoding: "zstd", malformed: true }),
  fc.constant({
    label: "zstd claims 1.9 GiB content",
    bytes: zstdClaimedSize(2n ** 31n - 2n ** 27n),
    encoding: "zstd",
    malformed: true
  }),
  fc.constant({ label: "brotli bomb (8 MiB)", bytes: brotliCompressSync(overLimit()), encoding: "br", malformed: true })
)

export const bodies: fc.Arbitrary<Body> = fc.oneof(
  { arbitrary: objects, weight: 3 },
  { arbitrary: malformed, weight: 3 },
  { arbitrary: encoded, weight: 3 },
  { arbitrary: fc.constant({ label: "empty", bytes: new Uint8Array(), malformed: true }), weight: 1 }
)
