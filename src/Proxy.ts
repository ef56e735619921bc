import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Exit, Fiber, Stream } from "effect"
import { AccountCredentials } from "./AccountCredentials.ts"
import { AccountHealth } from "./AccountHealth.ts"
import { Accounting } from "./Accounting.ts"
import { AccountSelector } from "./AccountSelector.ts"
import { MaxBodyBytes } from "./Config.ts"
import { newId } from "./Domain/Ids.ts"
import { PoolAuth } from "./PoolAuth.ts"
import { readRequestBody } from "./Proxy/Body.ts"
import { type FirstAttempt, makeForward } from "./Proxy/Forward.ts"
import { forwardRequestHeaders, relayResponseHeaders } from "./Proxy/Headers.ts"
import { parseJson, readSmallBody } from "./Proxy/Json.ts"
import { makeOpenRow, type OpenRow } from "./Proxy/OpenRow.ts"
import { forwardedQuery } from "./Proxy/Query.ts"
import { relay, type RelayEnd, type Translator } from "./Proxy/Relay.ts"
import { bindingOf, requestFacts } from "./Proxy/RequestFacts.ts"
import { errorCodeOf } from "./Proxy/SseTap.ts"
import { Quota } from "./Quota.ts"
import { fromHeaders, fromRateLimitsEvent, usageFromHeaders } from "./Quota/Evidence.ts"
import { RateLimiter } from "./RateLimiter.ts"
import { RealtimeCalls } from "./RealtimeCalls.ts"
import { SessionStore } from "./SessionStore.ts"
import type { UpstreamClient } from "./UpstreamClient.ts"
import { upstreamFailure } from "./V1/Errors.ts"
import type { Surface, SurfaceRequest } from "./V1/Surface.ts"

export interface ProxyRoute {
  readonly name:
    | "responses"
    | "compact"
    | "realtime"
    | "image_generation"
    | "image_edit"
    | "web_search"
    | "v1_responses"
    | "v1_chat_completions"
  readonly upstreamPath: string
  // Query parameters passed upstream, by name; each value is held to `queryValue` (400 otherwise), others dropped.
  readonly query?: ReadonlyArray<string>
  // A realtime call is a JSON SDP offer, {sdp, session} (codex-protocol.md §8).
  readonly body: "json" | "realtime-call"
  // Compact belongs to the account that holds the session (codex-protocol.md §6.2): never another one.
  readonly pinned: boolean
  // /v1: the OpenAI-compatible format this route speaks, translated to and from the Codex backend's
  readonly surface?: Surface
}

// What a /v1 request sends upstream: JSON in, an event stream out, and the client's session header (continuity); none
// of an SDK's own headers.
const v1UpstreamHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const session = headers["session-id"] ?? headers["x-session-id"]
  return {
    "content-type": "application/json",
    accept: "text/event-stream",
    ...(session === undefined ? {} : { "session-id": session })
  }
}

const outcomeOf = (status: number, end: RelayEnd, eventStream: boolean) => {
  if (end.interrupted) return { status: "cancelled", errorCode: "client_closed" } as const
  if (end.upstreamFailed) return { status: "failed", errorCode: "upstream_stream_interrupted" } as const
  if (status >= 400 || end.facts.errorCode !== null) {
    return { status: "failed", errorCode: end.facts.errorCode ?? `http_${status}` } as const
  }
  if (eventStream && !end.facts.completed) return { status: "failed", errorCode: "stream_incomplete" } as const
  return { status: "succeeded", errorCode: null } as const
}

// The request path as named phases, in order: authenticate → admit → select → prepare → forward → relay → account.
export class Proxy extends Effect.Service<Proxy>()("Gateway/Proxy", {
  effect: Effect.gen(function*() {
    const auth = yield* PoolAuth
    const limiter = yield* RateLimiter
    const sessions = yield* SessionStore
    const accounting = yield* Accounting
    const forward = yield* makeForward
    const quota = yield* Quota
    const health = yield* AccountHealth
    const calls = yield* RealtimeCalls
    const limit = yield* MaxBodyBytes

    const handle = (route: ProxyRoute) =>
      Effect.gen(function*() {
        const requestId = newId("req")
        const row = makeOpenRow(accounting, requestId)
        // The request's scope ends once the response was sent or the client left: a row the relay never took, and an
        // upstream body it never read, are closed there; a failure closes them at once.
        yield* Effect.addFinalizer(row.close)
        return yield* phases(route, requestId, row).pipe(
          Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : row.close(exit))
        )
      })

    const phases = (route: ProxyRoute, requestId: string, row: OpenRow) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const key = yield* (route.surface === undefined ? auth.authenticate : auth.authenticateV1)(request.headers)
        const query = yield* forwardedQuery(request.url, route.query ?? [])
        // Before the body is read or decoded: a key already at its limits costs no decoding.
        yield* limiter.precheck(key.keyId, key.limits)
        const read = yield* readRequestBody(request, route.surface === undefined ? route.body : "object", limit)
        // /v1: the client's request made into the Codex backend's, or refused naming the field, before any account
        const translated = route.surface === undefined ? null : yield* route.surface.translate(read.json, {})
        const body = translated === null
          ? read
          : {
            raw: Buffer.from(JSON.stringify(translated.body)),
            json: translated.body as unknown as Readonly<Record<string, unknown>>
          }
        const facts = requestFacts(request.headers, body.json)
        const transport = translated === null
          ? (route.name === "responses" ? "sse" : "http")
          : (translated.stream ? "sse" : "http")
        const started = {
          id: requestId,
          poolId: key.poolId,
          keyId: key.keyId,
          route: route.name,
          transport,
          model: facts.model
        } as const
        // A key with a counted limit has its row written by admission; any other key's goes with its first attempt.
        const admitted = yield* limiter.admit(
          key.keyId,
          key.limits,
          route.name === "realtime" ? null : facts.model,
          row.start(accounting.start(started))
        )
        const open = (first: FirstAttempt | null) =>
          Effect.tap(
            Effect.fork(row.start(accounting.start(started, first ?? undefined))),
            (fiber) => Effect.sync(() => row.recorded(Fiber.join(fiber)))
          )
        const forwarded = yield* forward({
          requestId,
          open: admitted ? null : open,
          poolId: key.poolId,
          turnStateKey: facts.turnStateKey,
          threadKey: facts.threadKey,
          pinned: route.pinned,
          accounting,
          request: {
            method: "POST",
            path: `${route.upstreamPath}${query}`,
            headers: translated === null ? forwardRequestHeaders(request.headers) : v1UpstreamHeaders(request.headers),
            body: body.raw
          }
        })
        row.forwarded(forwarded)
        const { accountId, attempt, owner, response } = forwarded

        const turnState = response.headers["x-codex-turn-state"]
        if (response.status < 400) {
          // Bound before the body flows: the turn's next request can follow the last byte at once. A follow-up that
          // already carries this turn state, on the account that owns its thread, changes nothing.
          yield* sessions.bind(key.poolId, accountId, bindingOf(facts, accountId, owner, turnState))
        }
        // A voice call is bound to its account before Codex learns its id: the sideband join that follows, on any
        // instance, goes there.
        if (route.name === "realtime" && response.status >= 200 && response.status < 300) {
          yield* calls.bind(response.headers["location"], { poolId: key.poolId, accountId, keyId: key.keyId })
        }
        // Headers that show the account's Codex limit reached (a full window, no credits) rest it at once: the next
        // request goes elsewhere instead of meeting a 429 first.
        const headerWindows = fromHeaders(response.headers)
        if (response.status < 400) {
          const usage = usageFromHeaders(headerWindows, response.headers, new Date(yield* Clock.currentTimeMillis))
          if (usage.limitReached) yield* accounting.background(health.observeLimit(accountId, usage))
        }
        const eventStream = (response.headers["content-type"] ?? "").startsWith("text/event-stream")
        const account = (end: RelayEnd) => {
          if (!row.claim()) return Effect.void
          const outcome = outcomeOf(response.status, end, eventStream)
          const evidence = [
            ...headerWindows.map((window) => ({
              ...window,
              source: response.status >= 400 ? "error" as const : "headers" as const
            })),
            ...end.facts.rateLimitEvents.flatMap((event) => fromRateLimitsEvent(event, new Date()))
              .map((window) => ({ ...window, source: "event" as const }))
          ]
          return accounting.background(Effect.all([
            accounting.complete(requestId, attempt, {
              ...outcome,
              accountId,
              httpStatus: response.status,
              firstByteAt: end.firstByteAt,
              usage: end.facts.usage,
              upstreamRequestId: response.headers["x-request-id"] ?? null
            }),
            quota.record(accountId, evidence)
          ], { concurrency: "unbounded", discard: true }))
        }

        if (route.surface !== undefined && translated !== null) {
          return yield* v1Answer(route.surface, translated, { requestId, response, account })
        }
        const { "content-type": contentType, ...headers } = relayResponseHeaders(response.headers)
        return HttpServerResponse.stream(
          relay({ requestId, body: response.body, eventStream, isError: response.status >= 400, onEnd: account }),
          {
            status: response.status,
            headers: { ...headers, "x-codex-pooler-request-id": requestId },
            ...(contentType === undefined ? {} : { contentType })
          }
        )
      })

    // /v1's answer, in the public format: upstream's error bodies never reach the client (an OpenAI-shaped error with
    // a stable code does); a stream's events are translated as they pass; a client that asked for no stream gets the
    // collected object once upstream's stream has ended.
    const v1Answer = (
      surface: Surface,
      translated: SurfaceRequest,
      input: {
        readonly requestId: string
        readonly response: UpstreamClient.Response
        readonly account: (end: RelayEnd) => Effect.Effect<void>
      }
    ) =>
      Effect.gen(function*() {
        const { account, requestId, response } = input
        const headers = { "x-codex-pooler-request-id": requestId }
        const relayed = (translator: Translator | undefined) =>
          relay({
            requestId,
            body: response.body,
            eventStream: response.status < 400,
            isError: response.status >= 400,
            onEnd: account,
            ...(translator === undefined ? {} : { translator })
          })
        if (response.status >= 400) {
          const { bytes } = yield* readSmallBody(relayed(undefined))
          const failure = upstreamFailure(
            errorCodeOf(parseJson(bytes)),
            `The Codex backend answered ${response.status}.`
          )
          const retryAfter = response.headers["retry-after"]
          return HttpServerResponse.unsafeJson(failure.body, {
            status: failure.status,
            headers: retryAfter === undefined ? headers : { ...headers, "retry-after": retryAfter }
          })
        }
        if (translated.stream) {
          return HttpServerResponse.stream(relayed(surface.streamer(translated, requestId)), {
            status: 200,
            contentType: "text/event-stream",
            headers: { ...headers, "cache-control": "no-cache" }
          })
        }
        const collector = surface.collector(translated, requestId)
        yield* Stream.runDrain(relayed(collector))
        const outcome = collector.outcome()
        return HttpServerResponse.unsafeJson(outcome.body, { status: outcome.status, headers })
      })

    return { handle, authenticate: auth.authenticate } as const
  }),
  dependencies: [
    PoolAuth.Default,
    SessionStore.Default,
    Accounting.Default,
    Quota.Default,
    AccountSelector.Default,
    AccountCredentials.Default,
    AccountHealth.Default,
    RealtimeCalls.Default
  ]
}) {}
