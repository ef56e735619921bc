import { Headers } from "@effect/platform"
import { Cause, Effect, FiberSet, Option, type Scope } from "effect"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import type WebSocket from "ws"
import { WebSocketServer } from "ws"
import { AccountCredentials } from "../../AccountCredentials.ts"
import { MaxBodyBytes, MaxWebsocketsPerKey, WsIdleTimeoutMs } from "../../Config.ts"
import { Metrics } from "../../Metrics.ts"
import { PoolAuth } from "../../PoolAuth.ts"
import { fromDefect, type ProxyError } from "../ErrorResponse.ts"
import { relayResponseHeaders } from "../Headers.ts"
import { closeWithin } from "./Closing.ts"
import { bridgeFrames, type BufferStats, type Closed, type FrameObserver, makeKeepAlive } from "./Frames.ts"
import { checkHandshake, completeHandshake } from "./Handshake.ts"
import { makeKeySockets } from "./KeySockets.ts"
import { refuse, relayRefusal } from "./Refusal.ts"
import { UpgradeRefused } from "./Upstream.ts"
import { makeWatch } from "./Watch.ts"

// One kind of client websocket (Codex's Responses socket, a voice call's sideband): its request path up to the
// client's upgrade, then its bridge. Both run in one scope, which closes both sockets however the bridge ends.
export interface Session<Opened> {
  readonly open: (
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer
  ) => Effect.Effect<Opened, ProxyError | UpgradeRefused, Scope.Scope>
  readonly bridge: (opened: Opened) => Effect.Effect<void, never, Scope.Scope>
  // The gateway's own answer to upstream's refusal of the upgrade; null relays the refusal as it came.
  readonly refused: (refused: UpgradeRefused) => ProxyError | null
}

export interface Bridged {
  readonly client: WebSocket
  readonly upstream: WebSocket
  // the socket's credentials, watched while it is open: its Pool key's Authorization header and its account
  readonly authorization: string
  readonly accountId: string
}

// How a bridge's frames pass, given whether the gateway is closing the socket; and whether nothing is under way on
// it, so a draining gateway may close it now.
export interface Relaying {
  readonly observer: Omit<FrameObserver, "delivered">
  readonly idle: () => boolean
}

export type Sockets = Effect.Effect.Success<typeof makeSockets>

// What every client websocket shares: the upgrade (checked, authenticated, held to the key's socket limit, completed
// with upstream's headers), the bridge (same payload limit, keep-alive and backpressure), the watch that closes a
// socket whose key or account stops being valid, draining, and the answer to a refused upgrade.
export const makeSockets = Effect.gen(function*() {
  const auth = yield* PoolAuth
  const credentials = yield* AccountCredentials
  const metrics = yield* Metrics
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
  wss.on("headers", (headers, request) => headers.push(...(upgradeHeaders.get(request) ?? [])))
  // The open bridges, each by what closes it once it is idle.
  const live = new Set<() => void>()
  let draining = false

  const onClientError = (error: Error) =>
    run(Effect.logDebug("client websocket closed on a protocol error", error.message))

  // Admitted like an HTTP request, before anything reaches upstream: a handshake ws would take, the Pool key (401),
  // and a socket slot under the key's limit, held until the socket is gone.
  const admit = (request: IncomingMessage, path: string) =>
    Effect.gen(function*() {
      yield* checkHandshake(request, path)
      const headers = Headers.fromInput(request.headers)
      const key = yield* auth.authenticate(headers)
      yield* keySockets.reserve(key.keyId, key.limits.maxConcurrent)
      return { headers, key } as const
    })

  // The client's upgrade completes once upstream's has, carrying upstream's upgrade headers that Codex reads.
  const accept = (
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    upstreamHeaders: Readonly<Record<string, string>>
  ) => {
    const relayed = Object.entries(relayResponseHeaders(upstreamHeaders)).map(([name, value]) => `${name}: ${value}`)
    upgradeHeaders.set(request, relayed)
    return Effect.uninterruptibleMask((restore) =>
      restore(completeHandshake(wss, request, socket, head, onClientError)).pipe(
        Effect.tap((client) =>
          Effect.addFinalizer(() => Effect.sync(() => closeWithin(client, 1001, "gateway going away")))
        )
      )
    )
  }

  // Frames both ways until either side closes. A key revoked or an account paused while the socket is open closes it
  // within seconds: from then on no client frame goes upstream, upstream is closed at once, and a client that does not
  // answer the close is cut. Draining (the instance is stopping), an idle socket is closed at once and a busy one as
  // soon as it is idle — with 1012, on which Codex reconnects a Responses socket (to another instance).
  const bridge = (bridged: Bridged, relaying: (stopped: () => boolean) => Relaying) =>
    Effect.gen(function*() {
      const { client, upstream } = bridged
      yield* Effect.acquireRelease(metrics.websocketOpened, () => metrics.websocketClosed)
      let stopped = false
      yield* watcher.watch({
        authorization: bridged.authorization,
        accountId: bridged.accountId,
        close: () => {
          stopped = true
          closeWithin(upstream, 1000, "credentials revoked or account paused")
          closeWithin(client, 1008, "credentials revoked or account paused")
        }
      })
      const { idle, observer } = relaying(() => stopped)
      const restart = () => {
        if (idle()) client.close(1012, "gateway restarting")
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => live.add(restart)),
        () => Effect.sync(() => live.delete(restart))
      )
      if (draining) restart()
      const closed = yield* bridgeFrames(client, upstream, { ...observer, delivered: () => draining && restart() }, {
        stats,
        keepAlive
      })
      return stopped ? { by: "gateway", code: 1008 } satisfies Closed : closed
    })

  // A session served on one upgrade, start to end. A refusal before the upgrade is answered as HTTP; once the upgrade
  // is done the socket speaks websocket, and a failure cuts it (Codex reconnects).
  const serving = <Opened>(session: Session<Opened>) => (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    let upgraded = false
    // Handed to `open` and let go: the bridge that follows does not keep the upgrade request or its head alive.
    let handshake: readonly [IncomingMessage, Buffer] | null = [request, head]
    run(
      Effect.suspend(() => {
        if (handshake === null) return Effect.dieMessage("websocket handshake taken twice")
        const [message, rest] = handshake
        handshake = null
        return session.open(message, socket, rest)
      }).pipe(
        Effect.tap(() => void (upgraded = true)),
        Effect.flatMap(session.bridge),
        Effect.scoped,
        Effect.catchAllCause((cause) =>
          Effect.gen(function*() {
            if (Cause.isInterruptedOnly(cause)) return socket.destroy()
            const error = yield* Option.match(Cause.failureOption(cause), {
              onNone: () => fromDefect(cause),
              onSome: Effect.succeed
            })
            if (upgraded) return socket.destroy()
            if (!socket.writable) return
            if (!(error instanceof UpgradeRefused)) return yield* metrics.gatewayError(refuse(socket, error))
            const own = session.refused(error)
            if (own === null) return relayRefusal(socket, error)
            yield* metrics.gatewayError(refuse(socket, own))
          })
        )
      )
    )
  }

  const drain = Effect.sync(() => {
    draining = true
    for (const restart of live) restart()
  })

  return { run, maxPayload, stats, admit, accept, bridge, serving, drain, openSockets: () => live.size } as const
})
