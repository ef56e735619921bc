import { Effect } from "effect"
import * as http from "node:http"

export interface Exchange {
  readonly httpMethod: string
  readonly rpcMethod: string | undefined
  readonly authorization: string | undefined
  readonly protocolVersion: string | undefined
  readonly status: number
  body: string
}

const rpcMethod = (text: string) => {
  try {
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === "object" && parsed !== null && "method" in parsed ? String(parsed.method) : undefined
  } catch {
    return undefined
  }
}

// A loopback pass-through in front of the gateway's /mcp that records what Codex's MCP client sent and what the
// gateway answered, streams included.
export const recordingProxy = (target: string) =>
  Effect.acquireRelease(
    Effect.async<{ readonly origin: string; readonly seen: Array<Exchange>; readonly server: http.Server }>(
      (resume) => {
        const seen: Array<Exchange> = []
        const server = http.createServer((request, response) => {
          const chunks: Array<Buffer> = []
          request.on("data", (chunk: Buffer) => chunks.push(chunk))
          request.on("end", () => {
            const body = Buffer.concat(chunks)
            const forward = http.request(`${target}${request.url ?? "/"}`, {
              method: request.method ?? "GET",
              headers: request.headers
            }, (answer) => {
              response.writeHead(answer.statusCode ?? 502, answer.headers)
              const exchange: Exchange = {
                httpMethod: request.method ?? "",
                rpcMethod: rpcMethod(body.toString()),
                authorization: request.headers.authorization,
                protocolVersion: [request.headers["mcp-protocol-version"]].flat()[0],
                status: answer.statusCode ?? 0,
                body: ""
              }
              seen.push(exchange)
              answer.on("data", (chunk: Buffer) => {
                exchange.body += chunk.toString()
                response.write(chunk)
              })
              answer.on("end", () => response.end())
            })
            forward.on("error", () => response.destroy())
            forward.end(body)
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address !== null ? address.port : 0
          resume(Effect.succeed({ origin: `http://127.0.0.1:${port}`, seen, server }))
        })
      }
    ),
    ({ server }) =>
      Effect.sync(() => {
        server.closeAllConnections()
        server.close()
      })
  )
