import { Headers } from "@effect/platform"
import { Cause, Effect, Either, FiberSet, Option } from "effect"
import { type IncomingMessage, STATUS_CODES } from "node:http"
import type { Duplex } from "node:stream"
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
import { accountHeaders, forwardRequestHeaders, relayResponseHeaders } from "./Headers.ts"
import { parseJson } from "./Json.ts"
import { type RequestFacts, requestFacts, turnStateKeyOf } from "./RequestFacts.ts"
import { closeWithin } from "./WebSocket/Closing.ts"
import { bridgeFrames, type BufferStats } from "./WebSocket/Frames.ts"
import { makeGate } from "./WebSocket/Gate.ts"
import { checkHandshake, completeHandshake } from "./WebSocket/Handshake.ts"
import { makeKeySockets } from "./WebSocket/KeySockets.ts"
import { makeResponseLedger } from "./WebSocket/Responses.ts"
import { connectUpstream, type UpgradeRefused } from "./WebSocket/Upstream.ts"
import { makeWatch } from "./WebSocket/Watch.ts"

export const websocketPath = "/backend-api/codex/responses"

const maxAccounts = 3

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
    const idleTimeoutMs = yield* WsIdleTimeoutMs
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
    const upgraded = new WeakSet<IncomingMessage>()
    // The open bridges, each by what closes it once it is idle.
    const live = new Set<() => void>()
    let draining = false
    wss.on("headers", (headers, request) => headers.push(...(upgradeHeaders.get(request) ?? [])))

    // 401 on the upgrade: refresh that account's token once and try it again.
    const openUpstream = (accountId: string, headers: Record<string, string>) =>
      credentials.withCredential(
        accountId,
        (credential) => connectUpstream(upstreamUrl, { ...headers, ...accountHeaders(credential) }, maxPayload),
        (opened) => Either.isLeft(opened) && opened.left._tag === "UpgradeRefused" && opened.left.status === 401
      )

    // An account at its usage limit refuses the upgrade with 429: the next eligible account is tried before the
    // client hears about it; when none is left, the last refusal is what Codex gets (it shows the reset time).
    const choose = (poolId: string, facts: RequestFacts, headers: Record<string, string>) =>
      Effect.gen(function*() {
        const exclude: Array<string> = []
        let refusal: UpgradeRefused | undefined
        while (exclude.length < maxAccounts) {
          const next = yield* Effect.either(selector.select({ ...facts, poolId, pinned: false, exclude }))
          if (Either.isLeft(next)) return yield* (refusal ?? next.left)
          const opened = yield* Effect.either(openUpstream(next.right.accountId, headers))
          if (Either.isRight(opened)) return { selected: next.right, upstream: opened.right }
          if (opened.left._tag !== "UpgradeRefused" || opened.left.status !== 429) return yield* opened.left
          refusal = opened.left
          yield* health.observeError(next.right.accountId, parseJson(refusal.body), refusal.headers["retry-after"])
          exclude.push(next.right.accountId)
        }
        return yield* (refusal ?? new NoAccountAvailable({ reason: "none_eligible" }))
      })

    const connect = (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      Effect.gen(function*() {
        yield* checkHandshake(request, websocketPath)
        const headers = Headers.fromInput(request.headers)
        const key = yield* auth.authenticate(headers)
        yield* keySockets.reserve(key.keyId, key.limits.maxConcurrent)
        const facts = requestFacts(headers, {})
        const { selected, upstream } = yield* choose(key.poolId, facts, forwardRequestHeaders(headers))
        const turnState = upstream.headers["x-codex-turn-state"]
        yield* sessions.bind(key.poolId, selected.accountId, {
          threadKey: selected.owner === selected.accountId ? null : facts.threadKey,
          turnStateKey: turnState === undefined ? null : turnStateKeyOf(turnState)
        })
        const relayed = Object.entries(relayResponseHeaders(upstream.headers)).map(([name, value]) =>
          `${name}: ${value}`
        )
        upgradeHeaders.set(request, relayed)
        const onClientError = (error: Error) =>
          run(Effect.logDebug("client websocket closed on a protocol error", error.message))
        const client = yield* Effect.uninterruptibleMask((restore) =>
          restore(completeHandshake(wss, request, socket, head, onClientError)).pipe(
            Effect.tap((client) =>
              Effect.addFinalizer(() => Effect.sync(() => closeWithin(client, 1001, "gateway going away")))
            )
          )
        )
        upgraded.add(request)
        yield* Effect.acquireRelease(metrics.websocketOpened, () => metrics.websocketClosed)
        const ledger = makeResponseLedger({
          accounting,
          quota,
          health,
          poolId: key.poolId,
          keyId: key.keyId,
          accountId: selected.accountId,
          run
        })
        // A key revoked or an account paused while the socket is open closes it within seconds: from then on no
        // client frame goes upstream, upstream is closed at once, and a client that does not answer the close is cut.
        let stopped = false
        yield* watcher.watch({
          authorization: headers["authorization"] ?? "",
          accountId: selected.accountId,
          close: () => {
            stopped = true
            closeWithin(upstream.socket, 1000, "credentials revoked or account paused")
            closeWithin(client, 1008, "credentials revoked or account paused")
          }
        })
        const gate = makeGate({
          metrics,
          authenticate: auth.authenticate(headers),
          admit: (current, model) =>
            ledger.open(model, (record) => limiter.admit(current.keyId, current.limits, model, record)),
          stopped: () => stopped
        })
        // Session rescue: when this account hits its usage limit mid-session and another account can serve, the
        // limit frame is kept from Codex and its socket is closed (1012): Codex reconnects, which lands on a healthy
        // account, and resends the full history there (codex-protocol.md §5). With no account left, Codex gets the
        // frame and shows when to come back.
        const hold = (data: Buffer, isBinary: boolean) =>
          Effect.gen(function*() {
            const frame = isBinary ? "" : data.toString("utf8", 0, 4096)
            if (!/^\{\s*"type"\s*:\s*"error"/.test(frame) || !frame.includes("usage_limit_reached")) {
              return "forward" as const
            }
            yield* health.observeError(selected.accountId, parseJson(data))
            const elsewhere = yield* Effect.either(
              selector.select({ ...facts, poolId: key.poolId, pinned: false, exclude: [selected.accountId] })
            )
            if (Either.isLeft(elsewhere)) return "forward" as const
            client.close(1012, "session moved to another account")
            return "drop" as const
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
        const delivered = Effect.sync(() => draining && restart())
        const closed = yield* bridgeFrames(client, upstream.socket, {
          fromUpstream: ledger.fromUpstream,
          gate,
          hold,
          delivered
        }, {
          stats,
          idleTimeoutMs
        })
        ledger.close(stopped ? "gateway" : closed.by)
      }).pipe(
        Effect.scoped,
        Effect.catchAllCause((cause) =>
          Effect.gen(function*() {
            if (Cause.isInterruptedOnly(cause)) return socket.destroy()
            const error = yield* Option.match(Cause.failureOption(cause), {
              onNone: () => fromDefect(cause),
              onSome: Effect.succeed
            })
            // Once the upgrade is done the socket speaks websocket: it is cut, and Codex reconnects.
            if (upgraded.has(request)) return socket.destroy()
            if (!socket.writable) return
            const answer = error._tag === "UpgradeRefused" ? relayRefusal(socket, error) : refuse(socket, error)
            if (answer !== null) yield* metrics.gatewayError(answer)
          })
        )
      )

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
