import { Headers } from "@effect/platform"
import { Cause, Effect, Either, FiberSet, Option } from "effect"
import { type IncomingMessage, STATUS_CODES } from "node:http"
import type { Duplex } from "node:stream"
import type WebSocket from "ws"
import { WebSocketServer } from "ws"
import { AccountCredentials } from "../AccountCredentials.ts"
import { AccountHealth } from "../AccountHealth.ts"
import { Accounting } from "../Accounting.ts"
import { AccountSelector } from "../AccountSelector.ts"
import { MaxBodyBytes, MaxWebsocketsPerKey, UpstreamUrl, WsIdleTimeoutMs } from "../Config.ts"
import { Metrics } from "../Metrics.ts"
import { PoolAuth } from "../PoolAuth.ts"
import { Quota } from "../Quota.ts"
import { RateLimiter } from "../RateLimiter.ts"
import { SessionStore } from "../SessionStore.ts"
import { errorAnswer, fromDefect, type ProxyError } from "./ErrorResponse.ts"
import { NoAccountAvailable, UpgradeRequired, WebSocketNotSupported } from "./Errors.ts"
import { makeFailover, noAttemptLog, type Route, type Transport } from "./Forward.ts"
import { accountHeaders, forwardRequestHeaders, relayResponseHeaders } from "./Headers.ts"
import { parseJson } from "./Json.ts"
import { bindingOf, requestFacts } from "./RequestFacts.ts"
import { errorCodeOf, record } from "./SseTap.ts"
import { closeWithin } from "./WebSocket/Closing.ts"
import { bridgeFrames, type BufferStats, makeKeepAlive } from "./WebSocket/Frames.ts"
import { makeGate } from "./WebSocket/Gate.ts"
import { checkHandshake, completeHandshake } from "./WebSocket/Handshake.ts"
import { makeKeySockets } from "./WebSocket/KeySockets.ts"
import { makeResponseLedger } from "./WebSocket/Responses.ts"
import { connectUpstream, UpgradeRefused, type UpstreamSocket } from "./WebSocket/Upstream.ts"
import { makeWatch } from "./WebSocket/Watch.ts"

export const websocketPath = "/backend-api/codex/responses"

type Upgrade = UpstreamSocket | UpgradeRefused

const writeAnswer = (socket: Duplex, status: number, headers: Readonly<Record<string, string>>, body: Buffer) => {
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    `content-length: ${body.length}`,
    "connection: close"
  ]
  socket.end(Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`), body]))
}

const refuse = (socket: Duplex, error: ProxyError) => {
  const answer = errorAnswer(error)
  writeAnswer(
    socket,
    answer.status,
    { ...answer.headers, "content-type": "application/json" },
    Buffer.from(JSON.stringify(answer.body))
  )
  return answer
}

// Codex over websocket: one upstream socket, on one account, for the life of each client socket (codex-protocol.md
// §5). The client's handshake is checked first, upstream connected next; the client's upgrade completes only then,
// carrying upstream's upgrade headers. Both sockets are closed when the bridge ends, however it ends.
export class WebSocketBridge extends Effect.Service<WebSocketBridge>()("Gateway/WebSocketBridge", {
  scoped: Effect.gen(function*() {
    const auth = yield* PoolAuth
    const selector = yield* AccountSelector
    const credentials = yield* AccountCredentials
    const sessions = yield* SessionStore
    const accounting = yield* Accounting
    const quota = yield* Quota
    const health = yield* AccountHealth
    const limiter = yield* RateLimiter
    const metrics = yield* Metrics
    const upstreamUrl = `${(yield* UpstreamUrl).replace(/^http/, "ws")}/responses`
    const run = yield* FiberSet.makeRuntime<never>()
    const stats: BufferStats = { maxBuffered: 0, maxQueued: 0, pauses: 0 }
    const keepAlive = yield* makeKeepAlive(yield* WsIdleTimeoutMs)
    // A frame is a request body: held to the same limit both ways (ws closes with 1009 past it).
    const maxPayload = yield* MaxBodyBytes
    const keySockets = makeKeySockets(yield* MaxWebsocketsPerKey)
    const wss = yield* Effect.acquireRelease(
      Effect.sync(() => new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload })),
      (wss) => Effect.sync(() => wss.close())
    )
    const watcher = yield* makeWatch({
      keyValid: (authorization) => auth.authenticate(Headers.fromInput({ authorization })),
      accountUsable: (accountId) => credentials.get(accountId)
    })
    const upgradeHeaders = new WeakMap<IncomingMessage, ReadonlyArray<string>>()
    const failover = yield* makeFailover
    // The open bridges, each by what closes it once it is idle.
    const live = new Set<() => void>()
    let draining = false
    wss.on("headers", (headers, request) => headers.push(...(upgradeHeaders.get(request) ?? [])))

    // A websocket's transport for the failover: an upstream socket opened with the account's credential; a refused
    // upgrade is an answer like an HTTP one (a 429 moves the session to the next account before the client hears of
    // it, a 401 refreshes the token once; when no account is left, the last refusal is what Codex gets).
    const transport = (headers: Record<string, string>): Transport<Upgrade> => ({
      send: (credential) =>
        connectUpstream(upstreamUrl, { ...headers, ...accountHeaders(credential) }, maxPayload).pipe(
          Effect.catchTag("UpgradeRefused", (refused) => Effect.succeed<Upgrade>(refused))
        ),
      status: (answer) => answer instanceof UpgradeRefused ? answer.status : 101,
      retryAfter: (answer) => answer instanceof UpgradeRefused ? answer.headers["retry-after"] : undefined,
      settle: (answer) =>
        Effect.succeed({ answer, json: answer instanceof UpgradeRefused ? parseJson(answer.body) : null }),
      discard: () => Effect.void
    })

    // The socket's request path, in the same phases as an HTTP request's (Proxy.ts): authenticate → select →
    // prepare → forward (the upstream socket, through the same failover) → bind; then the client's upgrade completes,
    // carrying upstream's upgrade headers. Each response.create later is admitted and accounted on its own (Gate,
    // Responses), on the account chosen here.
    const open = (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      Effect.gen(function*() {
        yield* checkHandshake(request, websocketPath)
        const headers = Headers.fromInput(request.headers)
        const key = yield* auth.authenticate(headers)
        yield* keySockets.reserve(key.keyId, key.limits.maxConcurrent)
        const facts = requestFacts(headers, {})
        const route = {
          poolId: key.poolId,
          threadKey: facts.threadKey,
          turnStateKey: facts.turnStateKey,
          pinned: false
        }
        const { accountId, owner, response } = yield* failover(
          route,
          transport(forwardRequestHeaders(headers)),
          noAttemptLog
        )
        if (response instanceof UpgradeRefused) return yield* response
        const turnState = response.headers["x-codex-turn-state"]
        yield* sessions.bind(key.poolId, accountId, bindingOf(facts, accountId, owner, turnState))
        const relayed = Object.entries(relayResponseHeaders(response.headers)).map(([name, value]) =>
          `${name}: ${value}`
        )
        upgradeHeaders.set(request, relayed)
        const client = yield* Effect.uninterruptibleMask((restore) =>
          restore(completeHandshake(wss, request, socket, head, onClientError)).pipe(
            Effect.tap((client) =>
              Effect.addFinalizer(() => Effect.sync(() => closeWithin(client, 1001, "gateway going away")))
            )
          )
        )
        return {
          key,
          authorization: headers["authorization"] ?? "",
          route,
          accountId,
          client,
          upstream: response.socket
        }
      })

    const onClientError = (error: Error) =>
      run(Effect.logDebug("client websocket closed on a protocol error", error.message))

    // Session rescue: when this account hits its usage limit mid-session and another account can serve, the limit
    // frame is kept from Codex and its socket is closed (1012): Codex reconnects, which lands on a healthy account,
    // and resends the full history there (codex-protocol.md §5). With no account left, Codex gets the frame and shows
    // when to come back. Only an error frame naming the limit is parsed; every other frame passes untouched.
    const limitFrame = Buffer.from("usage_limit_reached")
    const makeHold = (route: Route, accountId: string, client: WebSocket) => (data: Buffer, isBinary: boolean) => {
      if (isBinary || !data.includes(limitFrame)) return "forward"
      const frame = record(parseJson(data))
      if (frame["type"] !== "error" || errorCodeOf(frame) !== "usage_limit_reached") return "forward"
      return Effect.gen(function*() {
        yield* health.observeError(accountId, frame)
        const elsewhere = yield* Effect.either(selector.select({ ...route, exclude: [accountId] }))
        if (Either.isLeft(elsewhere)) return "forward" as const
        client.close(1012, "session moved to another account")
        return "drop" as const
      })
    }

    // Frames both ways until either side closes; every response.create is admitted and accounted as it passes.
    const bridge = (opened: Effect.Effect.Success<ReturnType<typeof open>>) =>
      Effect.gen(function*() {
        const { key, route, accountId, client, upstream } = opened
        yield* Effect.acquireRelease(metrics.websocketOpened, () => metrics.websocketClosed)
        const ledger = makeResponseLedger({
          accounting,
          quota,
          health,
          poolId: key.poolId,
          keyId: key.keyId,
          accountId,
          run
        })
        // A key revoked or an account paused while the socket is open closes it within seconds: from then on no
        // client frame goes upstream, upstream is closed at once, and a client that does not answer the close is cut.
        let stopped = false
        yield* watcher.watch({
          authorization: opened.authorization,
          accountId,
          close: () => {
            stopped = true
            closeWithin(upstream, 1000, "credentials revoked or account paused")
            closeWithin(client, 1008, "credentials revoked or account paused")
          }
        })
        const gate = makeGate({
          metrics,
          authenticate: auth.authenticate(Headers.fromInput({ authorization: opened.authorization })),
          admit: (current, model) =>
            ledger.open(model, (record) => limiter.admit(current.keyId, current.limits, model, record)),
          stopped: () => stopped
        })
        // Draining (the instance is stopping): an idle socket is closed at once, a busy one as soon as its response
        // has reached Codex — with 1012, on which Codex reconnects (to another instance) and carries on.
        const restart = () => {
          if (ledger.idle()) client.close(1012, "gateway restarting")
        }
        yield* Effect.acquireRelease(
          Effect.sync(() => live.add(restart)),
          () => Effect.sync(() => live.delete(restart))
        )
        if (draining) restart()
        const closed = yield* bridgeFrames(client, upstream, {
          fromUpstream: ledger.fromUpstream,
          gate,
          hold: makeHold(route, accountId, client),
          delivered: () => draining && restart()
        }, {
          stats,
          keepAlive
        })
        ledger.close(stopped ? "gateway" : closed.by)
      })

    const connect = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      let upgraded = false
      // Handed to `open` and let go: the bridge that follows does not keep the upgrade request or its head alive.
      let handshake: readonly [IncomingMessage, Buffer] | null = [request, head]
      return Effect.suspend(() => {
        if (handshake === null) return Effect.dieMessage("websocket handshake taken twice")
        const [message, rest] = handshake
        handshake = null
        return open(message, socket, rest)
      }).pipe(
        Effect.tap(() => void (upgraded = true)),
        Effect.flatMap(bridge),
        Effect.scoped,
        Effect.catchAllCause((cause) =>
          Effect.gen(function*() {
            if (Cause.isInterruptedOnly(cause)) return socket.destroy()
            const error = yield* Option.match(Cause.failureOption(cause), {
              onNone: () => fromDefect(cause),
              onSome: Effect.succeed
            })
            // Once the upgrade is done the socket speaks websocket: it is cut, and Codex reconnects.
            if (upgraded) return socket.destroy()
            if (!socket.writable) return
            const answer = error instanceof UpgradeRefused ? relayRefusal(socket, error) : refuse(socket, error)
            if (answer !== null) yield* metrics.gatewayError(answer)
          })
        )
      )
    }

    // The gateway's own answer when it makes one; null when upstream's refusal is relayed as it came.
    const relayRefusal = (socket: Duplex, refused: UpgradeRefused) => {
      if (refused.status === 426 || refused.status === 404) return refuse(socket, new UpgradeRequired())
      if (refused.status === 401) return refuse(socket, new NoAccountAvailable({ reason: "none_eligible" }))
      const { "content-type": contentType, ...headers } = relayResponseHeaders(refused.headers)
      writeAnswer(
        socket,
        refused.status,
        { ...headers, "content-type": contentType ?? "application/json" },
        refused.body
      )
      return null
    }

    // Only the Codex websocket route takes an upgrade, matched exactly (no case folding, no path parameters).
    const handle = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => socket.destroy())
      const path = (request.url ?? "").split("?")[0] ?? ""
      if (path === websocketPath) return void run(connect(request, socket, head))
      run(metrics.gatewayError(refuse(socket, new WebSocketNotSupported({ path: path.slice(0, 200) }))))
    }

    const drain = Effect.sync(() => {
      draining = true
      for (const restart of live) restart()
    })

    return { handle, stats, drain, openSockets: () => live.size } as const
  }),
  dependencies: [
    Metrics.Default,
    AccountHealth.Default,
    PoolAuth.Default,
    AccountSelector.Default,
    AccountCredentials.Default,
    SessionStore.Default,
    Accounting.Default,
    Quota.Default
  ]
}) {}
