import { Agent, createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from "node:http"

// The floor for any proxy: node:http in, node:http (keep-alive) out, bytes piped both ways, the client's
// Authorization swapped for the account's as the gateway does. No auth, no selection, no accounting.
const need = (name: string) => {
  const value = process.env[name]
  if (value === undefined || value === "") throw new Error(`${name} is required`)
  return value
}
const upstream = new URL(need("PIPE_UPSTREAM_ORIGIN"))
const accessToken = need("PIPE_ACCESS_TOKEN")
const accountId = need("PIPE_ACCOUNT_ID")
const agent = new Agent({ keepAlive: true, maxSockets: 256 })
const hopByHop = new Set(["host", "connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te"])

const copy = (headers: IncomingHttpHeaders, drop: ReadonlySet<string>): OutgoingHttpHeaders => {
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !drop.has(name)) out[name] = value
  }
  return out
}
const requestDrop = new Set([...hopByHop, "authorization", "chatgpt-account-id"])

const server = createServer((req, res) => {
  const headers = copy(req.headers, requestDrop)
  headers["authorization"] = `Bearer ${accessToken}`
  headers["chatgpt-account-id"] = accountId
  const out = request({
    host: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers,
    agent
  }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, copy(answer.headers, hopByHop))
    answer.pipe(res)
  })
  out.on("error", () => {
    if (res.headersSent) res.destroy()
    else res.writeHead(502).end()
  })
  res.on("close", () => {
    if (!res.writableFinished) out.destroy()
  })
  req.pipe(out)
})

server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("pipe proxy has no TCP address")
  process.stdout.write(`pipe listening on http://127.0.0.1:${address.port}\n`)
})

const stop = () => {
  server.close()
  server.closeAllConnections()
  agent.destroy()
  process.exit(0)
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
process.stdin.on("end", stop)
process.stdin.resume()
