import { HttpLayerRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { createServer, type Server } from "node:http"
import { Host, Port } from "./Config.ts"
import { HttpRoutes } from "./Http.ts"

const ShutdownGraceMs = Config.integer("CODEX_POOLER_SHUTDOWN_GRACE_MS").pipe(Config.withDefault(25_000))

// On SIGTERM/SIGINT: stop accepting, let in-flight requests finish within the grace period, then close the rest.
// Built after the HTTP server and the services, so it is released first, while those are still up.
const drain = (server: Server) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    let inFlight = 0
    server.on("request", (_request, response) => {
      inFlight++
      response.on("close", () => inFlight--)
    })
    const graceMs = yield* ShutdownGraceMs
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        if (server.listening) server.close()
        yield* Effect.logInfo("shutting down", { inFlight })
        const idle = yield* Effect.sleep("50 millis").pipe(
          Effect.repeat({ until: () => inFlight === 0 }),
          Effect.timeoutOption(graceMs)
        )
        if (idle._tag === "None") yield* Effect.logWarning("grace period over, closing connections", { inFlight })
        server.closeAllConnections()
      })
    )
  }))

export const ServerLive = Layer.unwrapEffect(Effect.gen(function*() {
  const port = yield* Port
  const host = yield* Host
  const server = createServer()
  return drain(server).pipe(
    Layer.provideMerge(HttpLayerRouter.serve(HttpRoutes, { disableLogger: true })),
    Layer.provide(NodeHttpServer.layer(() => server, { port, host }))
  )
}))
