import { HttpLayerRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { Duplex } from "node:stream"
import { Host, Port, ShutdownGraceMs } from "./Config.ts"
import { HttpRoutes } from "./Http.ts"
import * as Instances from "./Instances.ts"
import { Mcp } from "./Mcp.ts"
import { WebSocketBridge } from "./Proxy/WebSocketBridge.ts"
import * as RateLimiter from "./RateLimiter.ts"
import { autoRedeemLayer } from "./ResetCredits.ts"
import * as UpstreamClient from "./UpstreamClient.ts"
import * as UsagePoller from "./UsagePoller.ts"

// On SIGTERM/SIGINT: stop accepting, let in-flight requests finish within the grace period, then close the rest.
// Websockets are asked to move (1012) as soon as they are idle. Built after the HTTP server and the services, so it
// is released first, while those are still up.
const drain = (server: Server) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const bridge = yield* WebSocketBridge
    let inFlight = 0
    server.on("request", (_request, response) => {
      inFlight++
      response.on("close", () => inFlight--)
    })
    const graceMs = yield* ShutdownGraceMs
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        if (server.listening) server.close()
        yield* Effect.logInfo("shutting down").pipe(Effect.annotateLogs({ inFlight, websockets: bridge.openSockets() }))
        yield* bridge.drain
        const idle = yield* Effect.sleep("50 millis").pipe(
          Effect.repeat({ until: () => inFlight === 0 && bridge.openSockets() === 0 }),
          Effect.timeoutOption(graceMs)
        )
        if (idle._tag === "None") {
          yield* Effect.logWarning("grace period over, closing connections").pipe(
            Effect.annotateLogs({ inFlight, websockets: bridge.openSockets() })
          )
        }
        server.closeAllConnections()
      })
    )
  }))

// Websocket upgrades go to the bridge, which must answer the handshake itself (with upstream's upgrade headers) and
// refuses one on any route but Codex's websocket route. An upgrade to another protocol (h2c) keeps going to the
// router, which answers it as the plain request it also is.
const websockets = (server: Server) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const bridge = yield* WebSocketBridge
    const routed = server.listeners("upgrade")
    server.removeAllListeners("upgrade")
    server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (request.headers.upgrade?.toLowerCase() === "websocket") return bridge.handle(request, socket, head)
      for (const listener of routed) Reflect.apply(listener, server, [request, socket, head])
    })
  })).pipe(Layer.provideMerge(WebSocketBridge.Default), Layer.provide(RateLimiter.layer))

// /mcp is served by the MCP SDK's Streamable HTTP transport, which writes to Node's response itself.
const mcp = (server: Server) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const endpoint = yield* Mcp
    const routed = server.listeners("request")
    server.removeAllListeners("request")
    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      if (new URL(request.url ?? "/", "http://gateway").pathname === "/mcp") return endpoint.handle(request, response)
      for (const listener of routed) Reflect.apply(listener, server, [request, response])
    })
  })).pipe(Layer.provide(Mcp.Default), Layer.provide(UpstreamClient.layer))

export const ServerLive = Layer.unwrapEffect(Effect.gen(function*() {
  const port = yield* Port
  const host = yield* Host
  const server = createServer()
  return Layer.mergeAll(
    drain(server),
    mcp(server),
    UsagePoller.layer.pipe(Layer.provide(UpstreamClient.layer)),
    autoRedeemLayer.pipe(Layer.provide(UpstreamClient.layer)),
    Instances.layer.pipe(Layer.provide(Instances.Instances.Default))
  ).pipe(
    Layer.provideMerge(websockets(server)),
    Layer.provideMerge(HttpLayerRouter.serve(HttpRoutes, { disableLogger: true })),
    Layer.provideMerge(NodeHttpServer.layer(() => server, { port, host })),
    // No tracing spans: nothing here exports them, and making one per request, per Effect.fn call and per SQL
    // statement was a measured share of each request's CPU (BENCHMARKS.md, issue #12).
    Layer.provide(Layer.setTracerEnabled(false))
  )
}))
