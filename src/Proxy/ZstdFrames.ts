import { Either } from "effect"

// What decoding a zstd body may cost, judged from its frame and block headers alone (RFC 8878 §3.1), before a
// decoder allocates a window or writes a byte.
export interface ZstdBounds {
  // The largest window a frame may name: a decoder allocates it up front.
  readonly windowBytes: number
  // The largest total a frame's Frame_Content_Size may declare: what the decoded body may hold.
  readonly contentBytes: number
  // The decoding work allowed, in block-cost units (see `blockCost`); Infinity when the decoder needs no bound.
  readonly workBytes: number
  // Where to cut the input so each piece costs about this much to decode.
  readonly sliceWork: number
}

// Each frame is decoded on its own by node:zlib, which stops at the end of the first one.
const maxFrames = 64

export type ZstdRefusal = { readonly _tag: "Malformed"; readonly reason: string } | { readonly _tag: "TooLarge" }

export interface ZstdScan {
  // Offsets into the body at block boundaries, each piece between two of them costing about `sliceWork`.
  readonly cuts: ReadonlyArray<number>
  // Where each zstd frame (not a skippable one) starts and ends.
  readonly frames: ReadonlyArray<readonly [number, number]>
  // The largest window any frame names, for the decoder's own limit.
  readonly windowBytes: number
}

const zstdMagic = 0xFD2FB528
const isSkippable = (magic: number) => magic >>> 4 === 0x184D2A5
const maxBlockBytes = 128 * 1024
// A streaming decoder (fzstd) shifts its whole window once per block, and each block decodes up to 128 KiB.
const blockCost = (windowBytes: number) => windowBytes + maxBlockBytes

const malformed = (reason: string) => Either.left<ZstdRefusal>({ _tag: "Malformed", reason })
const tooLarge = Either.left<ZstdRefusal>({ _tag: "TooLarge" })

const readLittleEndian = (bytes: Uint8Array, at: number, size: number) => {
  let value = 0
  for (let index = size - 1; index >= 0; index--) value = value * 256 + (bytes[at + index] ?? 0)
  return value
}

interface Header {
  readonly size: number
  readonly windowBytes: number
  readonly contentBytes: number | null
  readonly checksum: boolean
}

// Frame_Header (§3.1.1.1): descriptor, optional window descriptor, dictionary id and content size.
const frameHeader = (bytes: Uint8Array, at: number): Either.Either<Header, ZstdRefusal> => {
  const descriptor = bytes[at]
  if (descriptor === undefined) return malformed("truncated frame header")
  const contentFlag = descriptor >> 6
  const singleSegment = (descriptor & 0x20) !== 0
  if ((descriptor & 0x08) !== 0) return malformed("reserved bit set in frame header")
  if ((descriptor & 0x03) !== 0) return malformed("dictionaries are not supported")
  const windowSize = singleSegment ? 0 : 1
  const contentSize = contentFlag === 0 ? (singleSegment ? 1 : 0) : 1 << contentFlag
  const size = 1 + windowSize + contentSize
  if (at + size > bytes.length) return malformed("truncated frame header")
  // A two-byte content size is stored less 256 (§3.1.1.4).
  const declared = contentSize === 0
    ? null
    : readLittleEndian(bytes, at + 1 + windowSize, contentSize) + (contentSize === 2 ? 256 : 0)
  let windowBytes = declared ?? 0
  if (!singleSegment) {
    const window = bytes[at + 1] ?? 0
    const base = 2 ** (10 + (window >> 3))
    windowBytes = base + (base / 8) * (window & 0x07)
  }
  return Either.right({ size, windowBytes, contentBytes: declared, checksum: (descriptor & 0x04) !== 0 })
}

// Walks every frame (zstd and skippable, concatenated) and every block header, refusing what is malformed or would
// cost more than the bounds allow, and marks where to cut the input between blocks.
export const scanZstd = (bytes: Uint8Array, bounds: ZstdBounds): Either.Either<ZstdScan, ZstdRefusal> => {
  const cuts: Array<number> = []
  const frames: Array<readonly [number, number]> = []
  let at = 0
  let content = 0
  let work = 0
  let sinceCut = 0
  let windowBytes = 0
  while (at < bytes.length) {
    if (at + 4 > bytes.length) return malformed("truncated frame")
    const magic = readLittleEndian(bytes, at, 4)
    if (isSkippable(magic)) {
      if (at + 8 > bytes.length) return malformed("truncated skippable frame")
      at += 8 + readLittleEndian(bytes, at + 4, 4)
      if (at > bytes.length) return malformed("truncated skippable frame")
      continue
    }
    if (magic !== zstdMagic) return malformed("not a zstd frame")
    if (frames.length === maxFrames) return tooLarge
    const start = at
    const header = frameHeader(bytes, at + 4)
    if (Either.isLeft(header)) return Either.left(header.left)
    const frame = header.right
    if (frame.windowBytes > bounds.windowBytes) return tooLarge
    content += frame.contentBytes ?? 0
    if (content > bounds.contentBytes) return tooLarge
    windowBytes = Math.max(windowBytes, frame.windowBytes)
    const blockLimit = Math.min(frame.windowBytes, maxBlockBytes)
    at += 4 + frame.size
    for (let last = false; !last;) {
      if (at + 3 > bytes.length) return malformed("truncated block")
      const block = readLittleEndian(bytes, at, 3)
      last = (block & 1) === 1
      const type = (block >> 1) & 3
      const size = block >>> 3
      if (type === 3) return malformed("reserved block type")
      if (size > blockLimit) return malformed("block larger than its frame allows")
      // A raw or compressed block carries its bytes; an RLE block carries one byte repeated `size` times.
      at += 3 + (type === 1 ? 1 : size)
      if (at > bytes.length) return malformed("truncated block")
      work += blockCost(frame.windowBytes)
      sinceCut += blockCost(frame.windowBytes)
      if (work > bounds.workBytes) return tooLarge
      if (sinceCut >= bounds.sliceWork) {
        cuts.push(at)
        sinceCut = 0
      }
    }
    at += frame.checksum ? 4 : 0
    if (at > bytes.length) return malformed("truncated checksum")
    frames.push([start, at])
  }
  return Either.right({ cuts, frames, windowBytes })
}
