import { HttpLayerRouter, HttpServerRequest, type HttpServerResponse } from "@effect/platform"
import { Cause, Effect, Layer, type Scope } from "effect"
import { Catalog } from "../Catalog.ts"
import { Metrics } from "../Metrics.ts"
import { PoolUsage } from "../PoolUsage.ts"
import { Proxy, type ProxyRoute } from "../Proxy.ts"
import { KeyUsage } from "../V1/KeyUsage.ts"
import { chatSurface, responsesSurface, type Surface } from "../V1/Surface.ts"
import { errorAnswer, errorResponse, fromDefect, type ProxyError } from "./ErrorResponse.ts"
import { MethodNotAllowed, UnsupportedEndpoint, UpgradeRequired } from "./Errors.ts"

const prefix = "/backend-api/codex"

type Handler = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  ProxyError,
  HttpServerRequest.HttpServerRequest | Scope.Scope
>

// Every failure of these routes is answered here, in Codex's error shape, and counted; so is a defect (the database
// gone, or a bug), which would otherwise be an empty 500.
const answered = (metrics: Metrics) => (error: ProxyError) => {
  const answer = errorAnswer(error)
  return Effect.as(metrics.gatewayError(answer), errorResponse(answer))
}

const answering =
  (metrics: Metrics) => <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, ProxyError, R>) =>
    handler.pipe(
      Effect.catchAll(answered(metrics)),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.flatMap(fromDefect(cause), answered(metrics))
      )
    )

const unsupported = (metrics: Metrics) =>
  answering(metrics)(HttpServerRequest.HttpServerRequest.pipe(
    Effect.flatMap((request) =>
      new UnsupportedEndpoint({
        method: request.method,
        path: URL.canParse(request.url, "http://x") ? new URL(request.url, "http://x").pathname : rawPath(request.url)
      })
    )
  ))

// The path as the client sent it, before the query: not decoded, not normalised.
const rawPath = (url: string) => url.split("?", 1)[0] ?? url

// The router matches loosely (case-insensitive, trailing and doubled slashes ignored, percent-escapes decoded, a ';'
// taken for the start of the query): only the exact path is the route; any other spelling is the 404 it names.
const exactly = (metrics: Metrics, path: `/${string}`, handlers: Partial<Record<"GET" | "POST", Handler>>) =>
  HttpLayerRouter.route("*", path, (request) => {
    if (rawPath(request.url) !== path) return unsupported(metrics)
    const handler = request.method === "GET" || request.method === "POST" ? handlers[request.method] : undefined
    const allow = Object.keys(handlers)
    return answering(metrics)(handler ?? Effect.fail(new MethodNotAllowed({ method: request.method, path, allow })))
  })

const byMethod = (metrics: Metrics, path: string, handlers: Partial<Record<"GET" | "POST", Handler>>) =>
  exactly(metrics, `${prefix}${path}`, handlers)

const v1Route = (name: "v1_responses" | "v1_chat_completions", surface: Surface): ProxyRoute => ({
  name,
  upstreamPath: "/responses",
  body: "json",
  pinned: false,
  surface
})

const route = (
  name: ProxyRoute["name"],
  upstreamPath: string,
  body: ProxyRoute["body"],
  options: { readonly pinned?: boolean; readonly query?: ReadonlyArray<string> } = {}
): ProxyRoute => ({
  name,
  upstreamPath,
  body,
  pinned: options.pinned ?? false,
  ...(options.query === undefined ? {} : { query: options.query })
})

// Exactly the Codex backend surface (codex-protocol.md §1, and the tool routes Codex 0.169 calls) — not a wildcard
// proxy.
export const CodexRoutes = HttpLayerRouter.use((router) =>
  Effect.gen(function*() {
    const proxy = yield* Proxy
    const catalog = yield* Catalog
    const metrics = yield* Metrics
    const usage = yield* PoolUsage
    const keyUsage = yield* KeyUsage
    // Websocket upgrades never get here (the server hands them to WebSocketBridge); a plain GET is told to upgrade.
    const websocket = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      proxy.authenticate(request.headers))
      .pipe(Effect.zipRight(new UpgradeRequired()))
    const routes = [
      byMethod(metrics, "/responses", { POST: proxy.handle(route("responses", "/responses", "json")), GET: websocket }),
      byMethod(metrics, "/responses/compact", {
        POST: proxy.handle(route("compact", "/responses/compact", "json", { pinned: true }))
      }),
      byMethod(metrics, "/models", { GET: catalog.models }),
      // Codex 0.169 opens a voice call with ?intent=quicksilver&architecture=avas (README, "Codex's other calls").
      byMethod(metrics, "/realtime/calls", {
        POST: proxy.handle(route("realtime", "/realtime/calls", "realtime-call", { query: ["intent", "architecture"] }))
      }),
      // Codex's image tool (image_gen.imagegen) and standalone web search (web.run): JSON in, JSON out, on the account
      // that holds the thread named by x-codex-turn-metadata.
      byMethod(metrics, "/images/generations", {
        POST: proxy.handle(route("image_generation", "/images/generations", "json"))
      }),
      byMethod(metrics, "/images/edits", { POST: proxy.handle(route("image_edit", "/images/edits", "json")) }),
      byMethod(metrics, "/alpha/search", { POST: proxy.handle(route("web_search", "/alpha/search", "json")) }),
      // The Pool's usage where Codex's backend client reads an account's (chatgpt_base_url with /backend-api, or
      // without): README, "Codex's other calls".
      exactly(metrics, "/backend-api/wham/usage", { GET: usage.answer }),
      exactly(metrics, "/api/codex/usage", { GET: usage.answer }),
      exactly(metrics, "/backend-api/wham/accounts/check", { GET: usage.accountsCheck }),
      // Saved resets ("reset credits"), listed and redeemed for the Pool where Codex's backend client asks.
      ...(["/backend-api/wham", "/api/codex"] as const).flatMap((base) =>
        [
          exactly(metrics, `${base}/rate-limit-reset-credits`, { GET: usage.resetCreditList }),
          exactly(metrics, `${base}/rate-limit-reset-credits/consume`, { POST: usage.consumeResetCredit })
        ] as const
      ),
      // /v1: OpenAI's API for other tools, translated to the Codex backend on the same request path (README, "/v1").
      exactly(metrics, "/v1/responses", { POST: proxy.handle(v1Route("v1_responses", responsesSurface)) }),
      exactly(metrics, "/v1/chat/completions", { POST: proxy.handle(v1Route("v1_chat_completions", chatSurface)) }),
      exactly(metrics, "/v1/models", { GET: catalog.v1Models }),
      exactly(metrics, "/v1/usage", { GET: keyUsage.answer }),
      HttpLayerRouter.route("*", "/v1/*", unsupported(metrics)),
      HttpLayerRouter.route("*", "/v1", unsupported(metrics)),
      HttpLayerRouter.route("*", `${prefix}/*`, unsupported(metrics)),
      HttpLayerRouter.route("*", prefix, unsupported(metrics))
    ]
    yield* router.addAll(routes)
  })
).pipe(Layer.provide([Proxy.Default, Catalog.Default, Metrics.Default, PoolUsage.Default, KeyUsage.Default]))
