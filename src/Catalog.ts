import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Either, Exit, Stream } from "effect"
import { AccountCredentials } from "./AccountCredentials.ts"
import { makeSingleFlight } from "./AccountCredentials/SingleFlight.ts"
import { AccountHealth } from "./AccountHealth.ts"
import { Accounting, type RequestOutcome } from "./Accounting.ts"
import { unanswered } from "./Accounting/Outcome.ts"
import { AccountSelector } from "./AccountSelector.ts"
import { type Cached, makeCatalogCache } from "./Catalog/Cache.ts"
import { clientVersionOf } from "./Catalog/ClientVersion.ts"
import { newId } from "./Domain/Ids.ts"
import { PoolAuth } from "./PoolAuth.ts"
import { UpstreamUnavailable } from "./Proxy/Errors.ts"
import { makeForward } from "./Proxy/Forward.ts"
import { forwardRequestHeaders, relayResponseHeaders } from "./Proxy/Headers.ts"
import { parseJson } from "./Proxy/Json.ts"
import { errorCodeOf, record } from "./Proxy/SseTap.ts"
import { RateLimiter } from "./RateLimiter.ts"
import { upstreamFailure } from "./V1/Errors.ts"

// The catalog /v1 lists when its client names no Codex version: that of the Codex release the gateway is tested with.
const listedClientVersion = "0.169.0"

// OpenAI's model list, from Codex's catalog (`{models: [{slug, …}]}`); upstream's refusal as an OpenAI error.
const openAiList = (body: Uint8Array, status: number, requestId: string) => {
  const headers = { "x-codex-pooler-request-id": requestId }
  if (status !== 200) {
    const failure = upstreamFailure(errorCodeOf(parseJson(body)), `The Codex backend answered ${status}.`)
    return HttpServerResponse.unsafeJson(failure.body, { status: failure.status, headers })
  }
  const models = record(parseJson(body))["models"]
  const data = (Array.isArray(models) ? models : []).flatMap((model) => {
    const slug = record(model)["slug"]
    return typeof slug === "string" ? [{ id: slug, object: "model", created: 0, owned_by: "openai" }] : []
  })
  return HttpServerResponse.unsafeJson({ object: "list", data }, { headers })
}

interface Fetched {
  readonly accountId: string
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
  readonly upstreamRequestId: string | null
}

const ttlMs = 5 * 60 * 1000
// A few Pools times the few Codex versions in use at once; the bounds only keep key holders from filling memory.
const maxEntries = 256
const maxBytes = 32 * 1024 * 1024
// A catalog is some hundred KiB; a body past this is not one.
const catalogLimit = 8 * 1024 * 1024

const readCatalog = (body: Stream.Stream<Uint8Array, UpstreamUnavailable>) =>
  Stream.runFoldEffect(body, { size: 0, parts: Array.of<Uint8Array>() }, (read, chunk) => {
    if (read.size + chunk.length > catalogLimit) return new UpstreamUnavailable({ reason: "catalog_too_large" })
    read.parts.push(chunk)
    return Effect.succeed({ size: read.size + chunk.length, parts: read.parts })
  }).pipe(Effect.map((read) => new Uint8Array(Buffer.concat(read.parts))))

const served = (accountId: string | null, httpStatus: number, upstreamRequestId: string | null): RequestOutcome => ({
  accountId,
  status: httpStatus < 400 ? "succeeded" : "failed",
  httpStatus,
  errorCode: httpStatus < 400 ? null : `http_${httpStatus}`,
  firstByteAt: null,
  usage: null,
  upstreamRequestId
})

// The upstream model catalog changes request bodies (codex-protocol.md §7), so it is proxied verbatim, fetched
// through an eligible account of the Pool and cached per Pool and client_version, with its ETag honoured. Each
// request is admitted under the key's limits and has a row; concurrent misses of one entry share one fetch.
export class Catalog extends Effect.Service<Catalog>()("Gateway/Catalog", {
  scoped: Effect.gen(function*() {
    const auth = yield* PoolAuth
    const limiter = yield* RateLimiter
    const accounting = yield* Accounting
    const forward = yield* makeForward
    const cache = makeCatalogCache({ maxEntries, maxBytes })

    const fetchCatalog = (requestId: string, poolId: string, clientVersion: string, headers: Record<string, string>) =>
      Effect.gen(function*() {
        const { accountId, attempt, response } = yield* forward({
          requestId,
          open: null,
          poolId,
          turnStateKey: null,
          threadKey: null,
          pinned: false,
          accounting,
          request: { method: "GET", path: `/models?client_version=${encodeURIComponent(clientVersion)}`, headers }
        })
        const body = yield* Effect.either(readCatalog(response.body))
        const errorCode = Either.isLeft(body)
          ? `upstream_${body.left.reason}`
          : response.status === 200
          ? null
          : `http_${response.status}`
        const outcome = errorCode === null ? "succeeded" : "failed"
        yield* accounting.endAttempt({ requestId, attempt, httpStatus: response.status, errorCode, outcome })
        if (Either.isLeft(body)) return yield* body.left
        const fetched: Fetched = {
          accountId,
          status: response.status,
          headers: relayResponseHeaders(response.headers),
          body: body.right,
          upstreamRequestId: response.headers["x-request-id"] ?? null
        }
        if (response.status === 200) {
          const now = yield* Clock.currentTimeMillis
          cache.put(`${poolId} ${clientVersion}`, { body: fetched.body, headers: fetched.headers, until: now + ttlMs })
        }
        return fetched
      }).pipe(Effect.scoped)
    const flight = yield* makeSingleFlight<Fetched, Effect.Effect.Error<ReturnType<typeof fetchCatalog>>>()

    const reply = (cached: Omit<Cached, "until">, status: number, requestId: string, ifNoneMatch?: string) => {
      const { "content-type": contentType, ...rest } = cached.headers
      const headers: Record<string, string> = { ...rest, "x-codex-pooler-request-id": requestId }
      if (status !== 200) {
        return HttpServerResponse.uint8Array(cached.body, { status, headers, ...(contentType ? { contentType } : {}) })
      }
      return ifNoneMatch !== undefined && headers["etag"] === ifNoneMatch
        ? HttpServerResponse.empty({ status: 304, headers })
        : HttpServerResponse.uint8Array(cached.body, { headers, contentType: contentType ?? "application/json" })
    }

    const serve = (
      request: HttpServerRequest.HttpServerRequest,
      requestId: string,
      poolId: string,
      version: string,
      openAi: boolean
    ) =>
      Effect.gen(function*() {
        const ifNoneMatch = request.headers["if-none-match"]
        const answer = (cached: Omit<Cached, "until">, status: number) =>
          openAi ? openAiList(cached.body, status, requestId) : reply(cached, status, requestId, ifNoneMatch)
        const hit = cache.get(`${poolId} ${version}`, yield* Clock.currentTimeMillis)
        if (hit !== undefined) {
          const response = answer(hit, 200)
          return { response, outcome: served(null, response.status, null) }
        }
        const fetch = fetchCatalog(requestId, poolId, version, forwardRequestHeaders(request.headers))
        const fetched = yield* flight(`${poolId} ${version}`, fetch)
        const response = answer(fetched, fetched.status)
        return { response, outcome: served(fetched.accountId, fetched.status, fetched.upstreamRequestId) }
      })

    // GET /models (Codex's shape, a client_version required), and /v1's GET /models: OpenAI's model list, unless the
    // client names a client_version (a Codex client pointed at /v1), then Codex's shape too.
    const answer = (surface: "codex" | "v1") =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const key = yield* (surface === "v1" ? auth.authenticateV1 : auth.authenticate)(request.headers)
        const named = new URL(request.url, "http://gateway").searchParams.has("client_version")
        const openAi = surface === "v1" && !named
        const clientVersion = openAi ? listedClientVersion : yield* clientVersionOf(request.url)
        const requestId = newId("req")
        let opened = false
        const start = Effect.suspend(() => {
          opened = true
          const { poolId, keyId } = key
          return accounting.start({ id: requestId, poolId, keyId, route: "models", transport: "http", model: null })
        })
        // From the row's start to the answer, one exit closes it: served, refused, failed or cancelled.
        const answered = yield* Effect.gen(function*() {
          if (!(yield* limiter.admit(key.keyId, key.limits, null, start))) yield* start
          return yield* serve(request, requestId, key.poolId, clientVersion, openAi)
        }).pipe(Effect.onExit((exit) => {
          if (!opened) return Effect.void
          const outcome = Exit.isSuccess(exit) ? exit.value.outcome : unanswered(exit.cause)
          return accounting.finish(requestId, outcome)
        }))
        return answered.response
      })

    return { models: answer("codex"), v1Models: answer("v1") } as const
  }),
  dependencies: [
    PoolAuth.Default,
    Accounting.Default,
    AccountSelector.Default,
    AccountCredentials.Default,
    AccountHealth.Default
  ]
}) {}
