import { connect, type Socket } from "node:net"

// Raw HTTP/1.1 over a socket, for input fetch would normalise or refuse to send (odd methods, paths, duplicate or
// non-ASCII headers, bodies that contradict their encoding).

export interface RawRequest {
  readonly method: string
  readonly path: string
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body?: Uint8Array
  // Send the body as one chunk of `Transfer-Encoding: chunked`, or with a broken chunk header.
  readonly framing?: "length" | "chunked" | "bad-chunk"
}

export interface RawAnswer {
  // "answered": a complete response; "closed": the connection ended without one; "timeout": neither within the bound.
  readonly outcome: "answered" | "closed" | "timeout"
  readonly status: number | undefined
  readonly head: string
  readonly body: Buffer
}

export const encodeRequest = (request: RawRequest): Buffer => {
  const body = Buffer.from(request.body ?? new Uint8Array())
  const framing = request.framing ?? "length"
  const lines = [`${request.method} ${request.path} HTTP/1.1`, "host: 127.0.0.1", "connection: close"]
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`)
  lines.push(framing === "length" ? `content-length: ${body.length}` : "transfer-encoding: chunked")
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1")
  if (framing === "length") return Buffer.concat([head, body])
  const size = framing === "chunked" ? body.length.toString(16) : "zz"
  const chunk = body.length === 0 ? [] : [Buffer.from(`${size}\r\n`), body, Buffer.from("\r\n")]
  return Buffer.concat([head, ...chunk, Buffer.from("0\r\n\r\n")])
}

const headEnd = (data: Buffer) => data.indexOf("\r\n\r\n")

const parseStatus = (head: string) => {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(head)
  return match?.[1] === undefined ? undefined : Number(match[1])
}

const header = (head: string, name: string) =>
  head.split("\r\n").slice(1).find((line) => line.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim()

// Interim answers (100 Continue to an `Expect` header) come before the real one and are skipped.
const finalResponse = (data: Buffer): Buffer => {
  const end = headEnd(data)
  const status = end < 0 ? undefined : parseStatus(data.subarray(0, end).toString("latin1"))
  const interim = status !== undefined && status >= 100 && status < 200 && status !== 101
  return interim ? finalResponse(data.subarray(end + 4)) : data
}

// Whether `data` holds one whole response (so a server that keeps the connection open is not taken for a hang).
export const complete = (all: Buffer, method: string): boolean => {
  const data = finalResponse(all)
  const end = headEnd(data)
  if (end < 0) return false
  const head = data.subarray(0, end).toString("latin1")
  const status = parseStatus(head) ?? 0
  if (method === "HEAD" || status === 204 || status === 304 || status === 101) return true
  const body = data.subarray(end + 4)
  const length = header(head, "content-length")
  if (length !== undefined) return body.length >= Number(length)
  if (header(head, "transfer-encoding")?.toLowerCase().includes("chunked") === true) {
    return body.subarray(-5).toString("latin1") === "0\r\n\r\n"
  }
  return false
}

export const answerOf = (all: Buffer, outcome: RawAnswer["outcome"]): RawAnswer => {
  const data = finalResponse(all)
  const end = headEnd(data)
  const head = (end < 0 ? data : data.subarray(0, end)).toString("latin1")
  return { outcome, status: parseStatus(head), head, body: end < 0 ? Buffer.alloc(0) : data.subarray(end + 4) }
}

export const openSocket = (port: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => resolve(socket))
    socket.once("error", reject)
  })

// Writes the request and reads until a whole response, the connection's end, or `timeoutMs`.
export const rawRequest = async (port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawAnswer> => {
  const socket = await openSocket(port)
  return new Promise((resolve) => {
    const chunks: Array<Buffer> = []
    const finish = (outcome: RawAnswer["outcome"]) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(answerOf(Buffer.concat(chunks), outcome))
    }
    const timer = setTimeout(() => finish("timeout"), timeoutMs)
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      if (complete(Buffer.concat(chunks), request.method)) finish("answered")
    })
    socket.on("error", () => undefined)
    socket.on("close", () => finish(complete(Buffer.concat(chunks), request.method) ? "answered" : "closed"))
    socket.write(encodeRequest(request), () => undefined)
  })
}
