import { NodeStream } from "@effect/platform-node"
import { Context, Effect, Layer, type Scope, Stream } from "effect"
import type { Readable } from "node:stream"
import { Agent } from "undici"
import { UpstreamUrl } from "./Config.ts"
import { UpstreamUnavailable } from "./Proxy/Errors.ts"

export declare namespace UpstreamClient {
  export interface Request {
    readonly method: "GET" | "POST"
    // relative to the Codex base URL, with its query string: "/responses", "/models?client_version=0.169.0"; or,
    // with `base: "backend"`, to the backend API root that holds it ("/wham/usage")
    readonly path: string
    readonly base?: "codex" | "backend"
    readonly headers: Readonly<Record<string, string>>
    readonly body?: Uint8Array
  }
  export interface Response {
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    // Consume it or drain it; interrupting the consumer aborts the upstream request.
    readonly body: Stream.Stream<Uint8Array, UpstreamUnavailable>
  }
  export interface Service {
    // The body is released (destroyed, aborting the upstream request) when the caller's scope closes, whatever ended
    // it: no exit between the answer's arrival and its reader, an interruption included, can leave it open.
    readonly send: (request: Request) => Effect.Effect<Response, UpstreamUnavailable, Scope.Scope>
  }
}

export class UpstreamClient extends Context.Tag("Gateway/UpstreamClient")<UpstreamClient, UpstreamClient.Service>() {}

const reasonOf = (error: unknown) =>
  error instanceof Error ? ("code" in error && typeof error.code === "string" ? error.code : error.name) : "unknown"

export const flattenHeaders = (headers: Record<string, string | Array<string> | undefined>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

// Each pull takes everything the socket has already buffered, as one chunk of chunks: one fiber resumption per burst
// of upstream reads, not one promise per read. The body is destroyed (aborting the upstream request) when the stream
// ends or is interrupted. A body that failed before anyone read it fails the stream: undici's readable is then no
// longer readable, which fromReadable alone would take for an empty, complete body.
const bodyStream = (body: Readable) =>
  Stream.suspend(() =>
    body.errored === null
      ? NodeStream.fromReadable(() => body, (error) => new UpstreamUnavailable({ reason: reasonOf(error) }))
      : Stream.fail(new UpstreamUnavailable({ reason: reasonOf(body.errored) }))
  )

const ignore = () => {}

// undici directly, on one keep-alive agent.
export const make = Effect.gen(function*() {
  const base = new URL(yield* UpstreamUrl)
  const prefix = base.pathname.replace(/\/$/, "")
  const backendPrefix = prefix.replace(/\/codex$/, "")
  const agent = yield* Effect.acquireRelease(
    Effect.sync(() => new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 })),
    (agent) => Effect.promise(() => agent.close())
  )

  const send = (request: UpstreamClient.Request) =>
    Effect.gen(function*() {
      // Held the moment undici answers, before the fiber resumes: an interruption landing in between still finds it.
      let arrived: { readonly destroy: () => unknown } | undefined
      yield* Effect.addFinalizer(() => Effect.sync(() => arrived?.destroy()))
      return yield* Effect.tryPromise({
        try: (signal) =>
          agent.request({
            origin: base.origin,
            path: `${request.base === "backend" ? backendPrefix : prefix}${request.path}`,
            method: request.method,
            headers: request.headers,
            body: request.body === undefined
              ? null
              : Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength),
            signal,
            headersTimeout: 300_000,
            bodyTimeout: 600_000
          }).then((response) => {
            // undici's body reports its own destruction (ours, once nobody reads it) as an error event: one with no
            // listener would end the process. Readers listen for themselves while they read.
            response.body.on("error", ignore)
            arrived = response.body
            return response
          }),
        catch: (error) => new UpstreamUnavailable({ reason: reasonOf(error) })
      }).pipe(
        Effect.map(({ body, headers, statusCode }): UpstreamClient.Response => ({
          status: statusCode,
          headers: flattenHeaders(headers),
          body: bodyStream(body)
        }))
      )
    })

  return { send } satisfies UpstreamClient.Service
})

export const layer = Layer.scoped(UpstreamClient, make)
