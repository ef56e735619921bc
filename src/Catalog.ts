import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Chunk, Clock, Effect, Option, Stream } from "effect"
import { AccountCredentials } from "./AccountCredentials.ts"
import { AccountHealth } from "./AccountHealth.ts"
import { Accounting } from "./Accounting.ts"
import { AccountSelector } from "./AccountSelector.ts"
import { newId } from "./Domain/Ids.ts"
import { PoolAuth } from "./PoolAuth.ts"
import { makeForward } from "./Proxy/Forward.ts"
import { forwardRequestHeaders, relayResponseHeaders } from "./Proxy/Headers.ts"

interface Cached {
  readonly body: Uint8Array
  readonly headers: Record<string, string>
  readonly until: number
}

const ttlMs = 5 * 60 * 1000

// The upstream model catalog changes request bodies (codex-protocol.md §7), so it is proxied verbatim, fetched
// through an eligible account of the Pool and cached per Pool and client_version, with its ETag honoured.
export class Catalog extends Effect.Service<Catalog>()("Gateway/Catalog", {
  effect: Effect.gen(function*() {
    const auth = yield* PoolAuth
    const accounting = yield* Accounting
    const forward = yield* makeForward
    const cache = new Map<string, Cached>()

    const answer = (cached: Pick<Cached, "body" | "headers">, ifNoneMatch: string | undefined) => {
      const { "content-type": contentType, ...headers } = cached.headers
      return ifNoneMatch !== undefined && headers["etag"] === ifNoneMatch
        ? HttpServerResponse.empty({ status: 304, headers })
        : HttpServerResponse.uint8Array(cached.body, { headers, contentType: contentType ?? "application/json" })
    }

    const models = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const key = yield* auth.authenticate(request.headers)
      const query = new URL(request.url, "http://gateway").search
      const cacheKey = `${key.poolId} ${query}`
      const now = yield* Clock.currentTimeMillis
      const hit = cache.get(cacheKey)
      if (hit !== undefined && hit.until > now) return answer(hit, request.headers["if-none-match"])

      const requestId = newId("req")
      yield* accounting.start({ id: requestId, poolId: key.poolId, keyId: key.keyId, route: "models", transport: "http", model: null })
      const { accountId, attempt, response } = yield* forward({
        requestId,
        recorded: Effect.void,
        poolId: key.poolId,
        turnStateKey: null,
        threadKey: null,
        pinned: false,
        accounting,
        request: { method: "GET", path: `/models${query}`, headers: forwardRequestHeaders(request.headers) }
      })
      const body = yield* Stream.runCollect(response.body).pipe(
        Effect.map((chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks))),
        Effect.option
      )
      const status = Option.isSome(body) && response.status === 200 ? "succeeded" : "failed"
      const errorCode = status === "succeeded" ? null : `http_${response.status}`
      yield* accounting.endAttempt({ requestId, attempt, httpStatus: response.status, errorCode, outcome: status })
      yield* accounting.finish(requestId, {
        accountId,
        status,
        errorCode,
        httpStatus: response.status,
        firstByteAt: null,
        usage: null,
        upstreamRequestId: response.headers["x-request-id"] ?? null
      })
      const fetched = { body: Option.getOrElse(body, () => new Uint8Array()), headers: relayResponseHeaders(response.headers) }
      if (status !== "succeeded") {
        const { "content-type": contentType, ...headers } = fetched.headers
        return HttpServerResponse.uint8Array(fetched.body, { status: response.status, headers, ...(contentType ? { contentType } : {}) })
      }
      cache.set(cacheKey, { ...fetched, until: now + ttlMs })
      return answer(fetched, request.headers["if-none-match"])
    })

    return { models } as const
  }),
  dependencies: [PoolAuth.Default, Accounting.Default, AccountSelector.Default, AccountCredentials.Default, AccountHealth.Default]
}) {}
