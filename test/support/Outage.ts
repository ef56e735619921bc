import { Effect } from "effect"
import * as net from "node:net"

// A loopback TCP relay in front of a server (the test PostgreSQL), which a test can cut — every open connection
// dropped, new ones refused — and restore: an outage without touching the server itself.
export const cuttableRelay = (target: { readonly host: string; readonly port: number }) =>
  Effect.gen(function*() {
    let up = true
    const sockets = new Set<net.Socket>()
    const track = (socket: net.Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    }
    const relay = net.createServer((client) => {
      if (!up) return client.destroy()
      const server = net.connect(target.port, target.host)
      track(client)
      track(server)
      client.pipe(server).pipe(client)
      for (const [one, other] of [[client, server], [server, client]] as const) {
        one.on("error", () => other.destroy())
        one.on("close", () => other.destroy())
      }
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void relay.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () =>
        Effect.async<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          relay.close(() => resume(Effect.void))
        })
    )
    const address = relay.address()
    return {
      port: typeof address === "object" && address !== null ? address.port : 0,
      cut: Effect.sync(() => {
        up = false
        for (const socket of sockets) socket.destroy()
      }),
      restore: Effect.sync(() => {
        up = true
      })
    } as const
  })
