import { HttpLayerRouter, HttpServerRequest, type HttpServerResponse } from "@effect/platform"
import { Effect, Layer } from "effect"
import { Catalog } from "../Catalog.ts"
import { Proxy, type ProxyRoute } from "../Proxy.ts"
import { errorResponse, type ProxyError } from "./ErrorResponse.ts"
import { MethodNotAllowed, UnsupportedEndpoint, UpgradeRequired } from "./Errors.ts"

const prefix = "/backend-api/codex"

type Handler = Effect.Effect<HttpServerResponse.HttpServerResponse, ProxyError, HttpServerRequest.HttpServerRequest>

const byMethod = (path: string, handlers: Partial<Record<"GET" | "POST", Handler>>) =>
  HttpLayerRouter.route("*", `${prefix}${path}`, (request) => {
    const handler = request.method === "GET" || request.method === "POST" ? handlers[request.method] : undefined
    const allow = Object.keys(handlers)
    return (handler ?? Effect.fail(new MethodNotAllowed({ method: request.method, path: `${prefix}${path}`, allow })))
      .pipe(Effect.catchAll(errorResponse))
  })

const unsupported = HttpServerRequest.HttpServerRequest.pipe(
  Effect.flatMap((request) => new UnsupportedEndpoint({ method: request.method, path: new URL(request.url, "http://x").pathname })),
  Effect.catchAll(errorResponse)
)

const route = (name: ProxyRoute["name"], upstreamPath: string, body: ProxyRoute["body"], pinned = false): ProxyRoute => ({
  name,
  upstreamPath,
  body,
  pinned
})

// Exactly the Codex backend surface (codex-protocol.md §1) — not a wildcard proxy.
export const CodexRoutes = HttpLayerRouter.use((router) =>
  Effect.gen(function*() {
    const proxy = yield* Proxy
    const catalog = yield* Catalog
    // Websocket upgrades never get here (the server hands them to WebSocketBridge); a plain GET is told to upgrade.
    const websocket = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => proxy.authenticate(request.headers))
      .pipe(Effect.zipRight(new UpgradeRequired()))
    const routes = [
      byMethod("/responses", { POST: proxy.handle(route("responses", "/responses", "json")), GET: websocket }),
      byMethod("/responses/compact", { POST: proxy.handle(route("compact", "/responses/compact", "json", true)) }),
      byMethod("/models", { GET: catalog.models }),
      byMethod("/realtime/calls", { POST: proxy.handle(route("realtime", "/realtime/calls", "raw")) }),
      HttpLayerRouter.route("*", `${prefix}/*`, unsupported),
      HttpLayerRouter.route("*", prefix, unsupported)
    ]
    yield* router.addAll(routes)
  })
).pipe(Layer.provide([Proxy.Default, Catalog.Default]))
