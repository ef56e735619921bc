import { Context, Effect, Layer, Option, Scope, Stream } from "effect"
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

// Pulled with the iterator's next() only: on interruption the body is destroyed (aborting the upstream request)
// rather than asking the iterator to return, which would wait behind a pending read of a stalled upstream.
const bodyStream = (body: AsyncIterable<Buffer> & { destroy: () => unknown }) => {
  const iterator = body[Symbol.asyncIterator]()
  return Stream.repeatEffectOption(
    Effect.tryPromise({
      try: () => iterator.next(),
      catch: (error) => Option.some(new UpstreamUnavailable({ reason: reasonOf(error) }))
    }).pipe(
      Effect.flatMap((next) =>
        next.done
          ? Effect.fail(Option.none())
          : Effect.succeed(new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.byteLength))
      )
    )
  ).pipe(Stream.ensuring(Effect.sync(() => body.destroy())))
}

// undici directly, on one keep-alive agent. The body is read as an async iterable, so an upstream that fails between
// the response head and the first read surfaces as an error instead of an empty, seemingly complete body.
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
