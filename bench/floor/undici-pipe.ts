import { createServer } from "node:http"
import { pipeline } from "node:stream/promises"
import { announce, exitWithParent } from "./child.ts"
import { agent, responseHeaders, upstreamHeaders, upstreamOrigin } from "./upstream.ts"

// bench/pipe-proxy.ts with undici instead of node:http on the way out, as the gateway does.
const server = createServer((req, res) => {
  const aborted = new AbortController()
  res.on("close", () => {
    if (!res.writableFinished) aborted.abort()
  })
  agent.request({
    origin: upstreamOrigin,
    path: req.url ?? "/",
    method: req.method ?? "GET",
    headers: upstreamHeaders(req.headers),
    body: req.method === "GET" ? null : req,
    signal: aborted.signal
  }).then(
    (answer) => {
      res.writeHead(answer.statusCode, responseHeaders(answer.headers))
      return pipeline(answer.body, res)
    }
  ).catch(() => {
    if (res.headersSent) res.destroy()
    else res.writeHead(502).end()
  })
})

server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("undici-pipe has no TCP address")
  announce("undici-pipe", `http://127.0.0.1:${address.port}`)
})
exitWithParent()
