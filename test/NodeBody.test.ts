import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { createServer, type IncomingMessage, request, type Server } from "node:http"
import { readIncoming } from "../src/Http/NodeBody.ts"

const limit = 1024

// A server whose handler reads each body with readIncoming and reports what it read (or why it stopped) through
// `results`, answering 200 when it could.
const serve = Effect.acquireRelease(
  Effect.async<{ readonly server: Server; readonly port: number; readonly results: Array<string> }>((resume) => {
    const results: Array<string> = []
    const server = createServer((incoming: IncomingMessage, response) => {
      void Effect.runPromise(Effect.either(readIncoming(incoming, limit))).then((read) => {
        results.push(Either.isRight(read) ? `read ${read.right.toString("utf8")}` : read.left._tag)
        if (Either.isRight(read)) response.end("ok")
      })
    })
    server.listen(
      0,
      "127.0.0.1",
      () => {
        const address = server.address()
        if (address !== null && typeof address === "object") {
          resume(Effect.succeed({ server, port: address.port, results }))
        }
      }
    )
  }),
  ({ server }) =>
    Effect.sync(() => server.closeAllConnections()).pipe(
      Effect.zipRight(Effect.async<void>((resume) => void server.close(() => resume(Effect.void))))
    )
)

// Sends `parts` as a chunked body, one write per part, and ends it unless told to leave halfway.
const post = (port: number, parts: ReadonlyArray<string>, leave = false) =>
  Effect.async<string>((resume) => {
    const outgoing = request({ host: "127.0.0.1", port, method: "POST", path: "/" }, (answer) => {
      answer.resume()
      answer.on("end", () => resume(Effect.succeed(`status ${answer.statusCode}`)))
    })
    outgoing.on("error", () => resume(Effect.succeed("connection closed")))
    for (const part of parts) outgoing.write(part)
    if (leave) setTimeout(() => outgoing.destroy(), 50)
    else outgoing.end()
  })

const until = (results: ReadonlyArray<string>, count: number) =>
  Effect.promise(async () => {
    while (results.length < count) await new Promise((resolve) => setTimeout(resolve, 5))
  })

describe("a request body read in one step", () => {
  it.scoped("joins every chunk, an empty body included; past the limit or when the client leaves it stops", () =>
    Effect.gen(function*() {
      const { port, results } = yield* serve
      expect(yield* post(port, ["{\"a\":", "1,", "\"b\":2}"])).toBe("status 200")
      expect(yield* post(port, [])).toBe("status 200")
      expect(results).toEqual(["read {\"a\":1,\"b\":2}", "read "])

      expect(yield* post(port, ["x".repeat(600), "y".repeat(600)])).toBe("connection closed")
      yield* until(results, 3)
      expect(results[2]).toBe("TooLarge")

      expect(yield* post(port, ["z".repeat(100)], true)).toBe("connection closed")
      yield* until(results, 4)
      expect(results[3]).toBe("Unreadable")

      // The server goes on after both.
      expect(yield* post(port, ["x".repeat(limit)])).toBe("status 200")
      expect(results[4]).toBe(`read ${"x".repeat(limit)}`)
    }))
})
