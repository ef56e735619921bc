import { spawn } from "node:child_process"
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http"
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib"

export const flatHeaders = (headers: IncomingHttpHeaders): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

export const parseUrl = (url: string | undefined): { path: string; query: Record<string, string> } => {
  const parsed = new URL(url ?? "/", "http://127.0.0.1")
  return { path: parsed.pathname, query: Object.fromEntries(parsed.searchParams) }
}

export const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks)))
    req.on("error", reject)
  })

// node:zlib in Node 20 has no zstd, so the zstd CLI decodes Codex's compressed request bodies
const unzstd = (data: Buffer): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const child = spawn("zstd", ["-d", "-c", "-q"], { stdio: ["pipe", "pipe", "ignore"] })
    const chunks: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk))
    child.on("error", reject)
    child.on("close", (code) => code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`zstd exited ${code}`)))
    child.stdin.on("error", reject)
    child.stdin.end(data)
  })

export class UnsupportedEncoding extends Error {}

export const decodeBody = async (data: Buffer, encoding: string | undefined): Promise<Buffer> => {
  const normalized = (encoding ?? "identity").trim().toLowerCase()
  switch (normalized) {
    case "":
    case "identity":
      return data
    case "gzip":
    case "x-gzip":
      return gunzipSync(data)
    case "deflate":
      return inflateSync(data)
    case "br":
      return brotliDecompressSync(data)
    case "zstd":
      return unzstd(data)
    default:
      throw new UnsupportedEncoding(`unsupported content-encoding ${normalized}`)
  }
}

export const sendJson = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): void => {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text))
  })
  res.end(text)
}
