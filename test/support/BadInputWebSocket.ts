import { randomBytes } from "node:crypto"
import { answerOf, complete, openSocket } from "./RawHttp.ts"

// Hand-made RFC 6455 frames and a raw client for them: a well-behaved library would refuse to send most of these.

export interface Frame {
  readonly opcode: number
  readonly payload: Uint8Array
  readonly fin?: boolean
  readonly rsv?: number
  readonly masked?: boolean
}

export const encodeFrame = (frame: Frame): Buffer => {
  const payload = Buffer.from(frame.payload)
  const masked = frame.masked ?? true
  const first = ((frame.fin ?? true) ? 0x80 : 0) | ((frame.rsv ?? 0) << 4) | (frame.opcode & 0x0f)
  const maskBit = masked ? 0x80 : 0
  const length = payload.length < 126
    ? Buffer.from([maskBit | payload.length])
    : payload.length < 65_536
    ? Buffer.from([maskBit | 126, payload.length >> 8, payload.length & 0xff])
    : Buffer.concat([Buffer.from([maskBit | 127]), bigEndian64(payload.length)])
  if (!masked) return Buffer.concat([Buffer.from([first]), length, payload])
  const key = randomBytes(4)
  const body = Buffer.from(payload.map((byte, index) => byte ^ key[index % 4]!))
  return Buffer.concat([Buffer.from([first]), length, key, body])
}

const bigEndian64 = (value: number) => {
  const out = Buffer.alloc(8)
  out.writeBigUInt64BE(BigInt(value))
  return out
}

export const closePayload = (code: number, reason = "") => {
  const out = Buffer.alloc(2)
  out.writeUInt16BE(code)
  return Buffer.concat([out, Buffer.from(reason)])
}

export interface ServerFrames {
  readonly texts: ReadonlyArray<string>
  readonly closeCode: number | undefined
}

// Server frames are unmasked; a partial frame at the end is left out.
export const decodeServerFrames = (data: Buffer): ServerFrames => {
  const texts: Array<string> = []
  let closeCode: number | undefined
  let at = 0
  while (at + 2 <= data.length) {
    const opcode = data[at]! & 0x0f
    let length = data[at + 1]! & 0x7f
    let start = at + 2
    if (length === 126) {
      if (start + 2 > data.length) break
      length = data.readUInt16BE(start)
      start += 2
    } else if (length === 127) {
      if (start + 8 > data.length) break
      length = Number(data.readBigUInt64BE(start))
      start += 8
    }
    if (start + length > data.length) break
    const payload = data.subarray(start, start + length)
    if (opcode === 0x8) closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005
    else texts.push(payload.toString("utf8"))
    at = start + length
  }
  return { texts, closeCode }
}

export interface Session {
  readonly outcome: "closed" | "timeout" | "refused"
  readonly status: number | undefined
  readonly head: string
  readonly frames: ServerFrames
}

export interface SessionPlan {
  readonly path: string
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly frames: ReadonlyArray<Frame>
  // Drop the connection right after the upgrade request, before any answer.
  readonly hangUp?: boolean
}

// Upgrades, writes the frames and then a normal close, and reads until the server closes (a close frame or the end
// of the connection) or `timeoutMs` passes.
export const runSession = async (port: number, plan: SessionPlan, timeoutMs = 10_000): Promise<Session> => {
  const socket = await openSocket(port)
  const request = [
    `GET ${plan.path} HTTP/1.1`,
    "host: 127.0.0.1",
    ...plan.headers.map(([name, value]) => `${name}: ${value}`)
  ]
  return new Promise((resolve) => {
    let data = Buffer.alloc(0)
    let upgraded = false
    const finish = (outcome: Session["outcome"]) => {
      clearTimeout(timer)
      socket.destroy()
      const end = data.indexOf("\r\n\r\n")
      const answer = answerOf(data, outcome === "timeout" ? "timeout" : "closed")
      const frames = upgraded
        ? decodeServerFrames(data.subarray(end + 4))
        : { texts: [answer.body.toString()], closeCode: undefined }
      resolve({ outcome, status: answer.status, head: answer.head, frames })
    }
    const timer = setTimeout(() => finish("timeout"), timeoutMs)
    socket.on("error", () => undefined)
    socket.on("close", () => finish(upgraded ? "closed" : "refused"))
    socket.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk])
      const end = data.indexOf("\r\n\r\n")
      if (end < 0) return
      if (!upgraded && data.subarray(0, 12).toString("latin1") === "HTTP/1.1 101") {
        upgraded = true
        const frames = [...plan.frames.map(encodeFrame), encodeFrame({ opcode: 0x8, payload: closePayload(1000) })]
        socket.write(Buffer.concat(frames), () => undefined)
      }
      if (!upgraded && complete(data, "GET")) return finish("refused")
      if (upgraded && decodeServerFrames(data.subarray(end + 4)).closeCode !== undefined) finish("closed")
    })
    socket.write(`${request.join("\r\n")}\r\n\r\n`, "latin1", () => {
      if (plan.hangUp === true) finish("refused")
    })
  })
}
