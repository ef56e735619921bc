import { createConnection, createServer, type Socket } from "node:net"

// A loopback TCP relay in front of PostgreSQL that counts the statements its clients send: each Sync (the end of an
// extended-protocol statement, what a parameterised query is) and each simple Query. What the gateway sends through
// it is what `statements` reports, so a bench can divide it by the requests it made.
const protocol3 = 196_608

// Parse carries a statement name, then its text, each NUL-terminated.
const parsedText = (message: Buffer) => {
  const name = message.indexOf(0, 5)
  return message.toString("utf8", name + 1, message.indexOf(0, name + 1)).replace(/\s+/g, " ").slice(0, 60)
}

const counting = (onStatement: () => void, onText: (text: string) => void) => {
  let pending: Buffer = Buffer.alloc(0)
  let started = false
  return (data: Buffer) => {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data])
    for (;;) {
      // Startup messages have no type byte; an SSLRequest or GSSENCRequest comes before the real one.
      const header = started ? 5 : 4
      if (pending.length < header) return
      const length = started ? pending.readInt32BE(1) + 1 : pending.readInt32BE(0)
      if (pending.length < length) return
      if (!started) started = pending.length >= 8 && pending.readInt32BE(4) === protocol3
      else if (pending[0] === 0x53 || pending[0] === 0x51) onStatement()
      if (started && (pending[0] === 0x50 || pending[0] === 0x51)) {
        onText(pending[0] === 0x50 ? parsedText(pending.subarray(0, length)) : pending.toString("utf8", 5, 65))
      }
      pending = pending.subarray(length)
    }
  }
}

export const startPgCounter = (target: { readonly host: string; readonly port: number }) =>
  new Promise<{ readonly port: number; readonly statements: () => number; readonly close: () => void }>(
    (resolve, reject) => {
      let statements = 0
      // BENCH_SQL_TEXTS=1: the statements' first words and how often each was sent, printed at close.
      const texts = process.env["BENCH_SQL_TEXTS"] === "1" ? new Map<string, number>() : undefined
      const sockets = new Set<Socket>()
      const server = createServer((client) => {
        const upstream = createConnection(target)
        for (const socket of [client, upstream]) {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => {
            client.destroy()
            upstream.destroy()
          })
        }
        const count = counting(() => statements++, (text) => texts?.set(text, (texts.get(text) ?? 0) + 1))
        client.on("data", count)
        client.pipe(upstream)
        upstream.pipe(client)
      })
      server.on("error", reject)
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        if (address === null || typeof address === "string") return reject(new Error("counter has no TCP address"))
        resolve({
          port: address.port,
          statements: () => statements,
          close: () => {
            for (const [text, times] of [...texts ?? []].sort((a, b) => b[1] - a[1])) {
              process.stderr.write(`${String(times).padStart(8)}  ${text}\n`)
            }
            for (const socket of sockets) socket.destroy()
            server.close()
          }
        })
      })
    }
  )
