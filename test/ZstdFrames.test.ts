import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { spawnSync } from "node:child_process"
import { scanZstd } from "../src/Proxy/ZstdFrames.ts"

const zstd = (input: string, ...args: Array<string>) => spawnSync("zstd", ["-c", "-q", ...args], { input }).stdout
const bounds = { windowBytes: 16 * 1024 * 1024, contentBytes: 1024 * 1024, workBytes: Infinity, sliceWork: Infinity }
const refusal = (bytes: Uint8Array, over: Partial<typeof bounds> = {}) =>
  Either.match(scanZstd(bytes, { ...bounds, ...over }), { onLeft: (left) => left._tag, onRight: () => "ok" })

describe("zstd frame scan", () => {
  it("finds every frame of a concatenation, with checksums and skippable frames between them", () => {
    const one = zstd("first ".repeat(1000), "--check")
    const two = zstd("second ".repeat(1000), "--no-content-size")
    const skippable = Buffer.alloc(9)
    skippable.writeUInt32LE(0x184d2a5f, 0)
    skippable.writeUInt32LE(1, 4)
    const scan = scanZstd(Buffer.concat([one, skippable, two]), bounds)
    expect(Either.getOrThrow(scan).frames).toEqual([[0, one.length], [one.length + 9, one.length + 9 + two.length]])
  })

  it("refuses a window or declared content past the bounds, and malformed or truncated headers", () => {
    const body = zstd("x".repeat(100_000), "--stream-size=100000")
    expect(refusal(body)).toBe("ok")
    expect(refusal(body, { contentBytes: 50_000 })).toBe("TooLarge")
    expect(refusal(zstd("x".repeat(100_000), "--no-content-size"), { windowBytes: 1024 })).toBe("TooLarge")
    expect(refusal(body.subarray(0, body.length - 1))).toBe("Malformed")
    expect(refusal(body.subarray(0, 5))).toBe("Malformed")
    expect(refusal(Buffer.concat([body, Buffer.from([0x28, 0xb5])]))).toBe("Malformed")
    expect(refusal(Buffer.from("{\"model\":\"x\"}"))).toBe("Malformed")
    // A dictionary id, a reserved block type.
    expect(refusal(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x50, 0x07, 0x01, 0x00, 0x00]))).toBe("Malformed")
    expect(refusal(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50, 0x07, 0x00, 0x00]))).toBe("Malformed")
  })

  it("bounds the decoding work: many blocks under a large window are refused", () => {
    const blocks = Array.from({ length: 1000 }, () => [0x00, 0x00, 0x00]).flat()
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x70, ...blocks, 0x01, 0x00, 0x00])
    expect(refusal(frame)).toBe("ok")
    expect(refusal(frame, { workBytes: 64 * 16 * 1024 * 1024 })).toBe("TooLarge")
  })
})
