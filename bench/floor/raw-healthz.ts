import { createServer } from "node:http"
import { announce, exitWithParent } from "./child.ts"

// The floor of any HTTP answer: node:http and nothing else.
const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" }).end("{\"status\":\"ok\"}")
  } else {
    res.writeHead(404).end()
  }
})

server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("raw-healthz has no TCP address")
  announce("raw-healthz", `http://127.0.0.1:${address.port}`)
})
exitWithParent()
