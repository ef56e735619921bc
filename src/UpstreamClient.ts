import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Context, Effect, Layer, Stream } from "effect"
import { UpstreamUrl } from "./Config.ts"
import { UpstreamUnavailable } from "./Proxy/Errors.ts"

export declare namespace UpstreamClient {
  export interface Request {
    readonly method: "GET" | "POST"
    // relative to the Codex base URL, with its query string: "/responses", "/models?client_version=0.169.0"
    readonly path: string
    readonly headers: Readonly<Record<string, string>>
    readonly body?: Uint8Array
  }
  export interface Response {
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    // Interrupting the consumer aborts the upstream request.
    readonly body: Stream.Stream<Uint8Array, UpstreamUnavailable>
  }
  export interface Service {
    readonly send: (request: Request) => Effect.Effect<Response, UpstreamUnavailable>
  }
}

export class UpstreamClient extends Context.Tag("Gateway/UpstreamClient")<UpstreamClient, UpstreamClient.Service>() {}

const reasonOf = (error: { readonly reason: string; readonly cause?: unknown }) =>
  error.cause instanceof Error && "code" in error.cause ? String(error.cause.code) : error.reason

export const make = Effect.gen(function*() {
  const base = yield* UpstreamUrl
  const client = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerDisabledWhen(() => true))

  const send = (request: UpstreamClient.Request) => {
    const outgoing = HttpClientRequest.make(request.method)(`${base}${request.path}`).pipe(
      HttpClientRequest.setHeaders(request.headers),
      request.body === undefined ? (self) => self : HttpClientRequest.bodyUint8Array(request.body, request.headers["content-type"])
    )
    return client.execute(outgoing).pipe(
      Effect.map((response): UpstreamClient.Response => ({
        status: response.status,
        headers: response.headers,
        body: response.stream.pipe(Stream.mapError((error) => new UpstreamUnavailable({ reason: reasonOf(error) })))
      })),
      Effect.mapError((error) => new UpstreamUnavailable({ reason: reasonOf(error) }))
    )
  }
  return { send } satisfies UpstreamClient.Service
})

export const layer = Layer.effect(UpstreamClient, make).pipe(Layer.provide(NodeHttpClient.layerUndici))
