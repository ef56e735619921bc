import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as http from "node:http"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { codexExec } from "./support/Codex.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, setupPool } from "./support/Gateway.ts"

interface Exchange {
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
const recordingProxy = (target: string) =>
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

describe.each(backends)("Codex CLI's MCP client against the gateway on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.scoped("initializes with the operator token, lists the tools and ends its session", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.setAnswer("hi")
        const { token } = yield* (yield* OperatorTokens).create({ scope: "read" })
        const gateway = yield* gatewayUrl
        const proxy = yield* recordingProxy(gateway)
        const run = yield* codexExec({
          origin: gateway,
          key: pool.key,
          prompt: "say hi",
          transport: "http",
          mcp: { origin: proxy.origin, operatorToken: token }
        })
        expect(run.code, run.stderr).toBe(0)
        // Codex opens the listen stream and lists the tools concurrently: only those two may come in either order.
        const exchanges = proxy.seen.map((exchange) => [exchange.httpMethod, exchange.rpcMethod ?? "", exchange.status])
        expect(exchanges.slice(0, 2)).toEqual([["POST", "initialize", 200], ["POST", "notifications/initialized", 202]])
        expect(exchanges.slice(2, 4)).toEqual(expect.arrayContaining([["GET", "", 200], ["POST", "tools/list", 200]]))
        expect(exchanges.slice(4)).toEqual([["DELETE", "", 200]])
        const posts = proxy.seen.filter((exchange) => exchange.httpMethod === "POST")
        expect(proxy.seen.every((exchange) => exchange.authorization === `Bearer ${token}`)).toBe(true)
        const initialize = posts.find((exchange) => exchange.rpcMethod === "initialize")
        expect(initialize?.body).toContain(`"protocolVersion":"2025-06-18"`)
        const listed = posts.find((exchange) => exchange.rpcMethod === "tools/list")
        expect(listed?.protocolVersion).toEqual("2025-06-18")
        expect(listed?.body).toContain(`"name":"service_status"`)
        expect(listed?.body).not.toContain(`"name":"pause_account"`)
      }))
  })
})
