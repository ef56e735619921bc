import { createHash, randomBytes } from "node:crypto"
import * as net from "node:net"

// A websocket client that speaks the wire format by hand, so a test can send what a well-behaved library never
// would: bad frames, missing handshake headers, a close that is never answered.

export interface RawFrame {
  readonly fin: boolean
  readonly opcode: number
  readonly payload: Buffer
}

export interface RawClient {
  readonly socket: net.Socket
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  // the body of a refused upgrade, once the server has ended the connection
  readonly body: Promise<string>
  readonly frames: Array<RawFrame>
  readonly next: (predicate: (frame: RawFrame) => boolean) => Promise<RawFrame>
  // the TCP connection is gone
  readonly closed: Promise<void>
}

export const opcodes = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const

// One frame as a client sends it: masked unless told otherwise, final unless told otherwise.
export const frame = (
  opcode: number,
  payload: Buffer | string,
  options: { readonly fin?: boolean; readonly rsv?: number; readonly masked?: boolean; readonly length?: number } = {}
) => {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload)
  const length = options.length ?? data.length
  const masked = options.masked ?? true
  const first = ((options.fin ?? true) ? 0x80 : 0) | (options.rsv ?? 0) | opcode
  const size = length < 126 ? Buffer.from([length]) : length < 65536 ? Buffer.alloc(3) : Buffer.alloc(9)
  if (length >= 126 && length < 65536) {
    size[0] = 126
    size.writeUInt16BE(length, 1)
  } else if (length >= 65536) {
    size[0] = 127
    size.writeBigUInt64BE(BigInt(length), 1)
  }
  size[0] = size[0]! | (masked ? 0x80 : 0)
  const mask = masked ? randomBytes(4) : Buffer.alloc(0)
  const body = masked ? Buffer.from(data.map((byte, index) => byte ^ mask[index % 4]!)) : data
  return Buffer.concat([Buffer.from([first]), size, mask, body])
}

export const closePayload = (code: number, reason = "") => {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason))
  payload.writeUInt16BE(code, 0)
  payload.write(reason, 2)
  return payload
}

export const closeCodeOf = (frame: RawFrame) => frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005

const parseFrames = (buffer: Buffer, frames: Array<RawFrame>): Buffer => {
  let rest = buffer
  while (rest.length >= 2) {
    const short = rest[1]! & 0x7f
    const header = short === 126 ? 4 : short === 127 ? 10 : 2
    if (rest.length < header) break
    const length = short === 126 ? rest.readUInt16BE(2) : short === 127 ? Number(rest.readBigUInt64BE(2)) : short
    if (rest.length < header + length) break
    frames.push({
      fin: (rest[0]! & 0x80) !== 0,
      opcode: rest[0]! & 0x0f,
      payload: rest.subarray(header, header + length)
    })
    rest = rest.subarray(header + length)
  }
  return rest
}

export const rawUpgrade = (
  origin: string,
  path: string,
  headers: Readonly<Record<string, string>>,
  options: { readonly key?: string | null; readonly version?: string | null; readonly method?: string } = {}
) =>
  new Promise<RawClient>((resolve, reject) => {
    const url = new URL(origin)
    const socket = net.connect(Number(url.port), url.hostname)
    const key = options.key === undefined ? randomBytes(16).toString("base64") : options.key
    const version = options.version === undefined ? "13" : options.version
    const lines = [
      `${options.method ?? "GET"} ${path} HTTP/1.1`,
      `host: ${url.host}`,
      "connection: Upgrade",
      "upgrade: websocket",
      ...(key === null ? [] : [`sec-websocket-key: ${key}`]),
      ...(version === null ? [] : [`sec-websocket-version: ${version}`]),
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
    ]
    const frames: Array<RawFrame> = []
    const waiters: Array<() => void> = []
    const closed = new Promise<void>((done) => socket.once("close", () => done()))
    let pending: Buffer = Buffer.alloc(0)
    let head: { status: number; headers: Record<string, string> } | undefined
    let body = ""
    const bodyDone = new Promise<string>((done) => socket.once("close", () => done(body)))
    socket.on("error", () => socket.destroy())
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      if (head === undefined) {
        const end = pending.indexOf("\r\n\r\n")
        if (end < 0) return
        const [statusLine = "", ...headerLines] = pending.subarray(0, end).toString("latin1").split("\r\n")
        const status = Number(statusLine.split(" ")[1])
        head = {
          status,
          headers: Object.fromEntries(headerLines.map((line) => {
            const colon = line.indexOf(":")
            return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]
          }))
        }
        pending = pending.subarray(end + 4)
        const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64")
        if (status === 101 && head.headers["sec-websocket-accept"] !== accept) {
          reject(new Error("bad Sec-WebSocket-Accept"))
        }
        resolve({
          socket,
          status,
          headers: head.headers,
          body: bodyDone,
          frames,
          closed,
          next: (predicate) =>
            new Promise((done) => {
              const check = () => {
                const found = frames.find(predicate)
                if (found !== undefined) done(found)
                else waiters.push(check)
              }
              check()
            })
        })
      }
      if (head.status !== 101) {
        body += pending.toString("utf8")
        pending = Buffer.alloc(0)
        return
      }
      pending = parseFrames(pending, frames)
      for (const waiter of waiters.splice(0)) waiter()
    })
    socket.once("connect", () => socket.write(`${lines.join("\r\n")}\r\n\r\n`))
    socket.once("close", () => reject(new Error("connection closed before an answer")))
  })
