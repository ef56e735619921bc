import { Headers } from "@effect/platform"
import { Effect, Either } from "effect"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import type WebSocket from "ws"
import { AccountCredentials } from "../AccountCredentials.ts"
import { AccountHealth } from "../AccountHealth.ts"
import { Accounting } from "../Accounting.ts"
import { AccountSelector } from "../AccountSelector.ts"
import { UpstreamUrl } from "../Config.ts"
import { Metrics } from "../Metrics.ts"
import { PoolAuth } from "../PoolAuth.ts"
import { Quota } from "../Quota.ts"
import { RateLimiter } from "../RateLimiter.ts"
import { RealtimeCalls } from "../RealtimeCalls.ts"
import { SessionStore } from "../SessionStore.ts"
import { NoAccountAvailable, UpgradeRequired, WebSocketNotSupported } from "./Errors.ts"
import { makeFailover, noAttemptLog, type Route, type Transport } from "./Forward.ts"
import { accountHeaders, forwardRequestHeaders } from "./Headers.ts"
import { parseJson } from "./Json.ts"
import { bindingOf, requestFacts } from "./RequestFacts.ts"
import { errorCodeOf, record } from "./SseTap.ts"
import { makeGate } from "./WebSocket/Gate.ts"
import { refuse } from "./WebSocket/Refusal.ts"
import { makeResponseLedger } from "./WebSocket/Responses.ts"
import { makeSideband, realtimePath } from "./WebSocket/Sideband.ts"
import { makeSockets } from "./WebSocket/Sockets.ts"
import { connectUpstream, UpgradeRefused, type UpstreamSocket } from "./WebSocket/Upstream.ts"

export const websocketPath = "/backend-api/codex/responses"

type Upgrade = UpstreamSocket | UpgradeRefused

// Codex over websocket: one upstream socket, on one account, for the life of each client socket (codex-protocol.md
// §5); and a voice call's sideband (Sideband.ts). The client's handshake is checked first, upstream connected next;
// the client's upgrade completes only then, carrying upstream's upgrade headers. Both sockets are closed when the
// bridge ends, however it ends (Sockets.ts).
export class WebSocketBridge extends Effect.Service<WebSocketBridge>()("Gateway/WebSocketBridge", {
  scoped: Effect.gen(function*() {
    const auth = yield* PoolAuth
    const selector = yield* AccountSelector
    const sessions = yield* SessionStore
    const accounting = yield* Accounting
    const quota = yield* Quota
    const health = yield* AccountHealth
    const limiter = yield* RateLimiter
    const metrics = yield* Metrics
    const upstreamUrl = `${(yield* UpstreamUrl).replace(/^http/, "ws")}/responses`
    const sockets = yield* makeSockets
    const failover = yield* makeFailover

    // A websocket's transport for the failover: an upstream socket opened with the account's credential; a refused
    // upgrade is an answer like an HTTP one (a 429 moves the session to the next account before the client hears of
    // it, a 401 refreshes the token once; when no account is left, the last refusal is what Codex gets).
    const transport = (headers: Record<string, string>): Transport<Upgrade> => ({
      send: (credential) =>
        connectUpstream(upstreamUrl, { ...headers, ...accountHeaders(credential) }, sockets.maxPayload).pipe(
          Effect.catchTag("UpgradeRefused", (refused) => Effect.succeed<Upgrade>(refused))
        ),
      status: (answer) => answer instanceof UpgradeRefused ? answer.status : 101,
      retryAfter: (answer) => answer instanceof UpgradeRefused ? answer.headers["retry-after"] : undefined,
      settle: (answer) =>
        Effect.succeed({ answer, json: answer instanceof UpgradeRefused ? parseJson(answer.body) : null }),
      discard: () => Effect.void
    })

    // The socket's request path, in the same phases as an HTTP request's (Proxy.ts): authenticate → select →
    // prepare → forward (the upstream socket, through the same failover) → bind; then the client's upgrade completes.
    // Each response.create later is admitted and accounted on its own (Gate, Responses), on the account chosen here.
    const open = (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      Effect.gen(function*() {
        const { headers, key } = yield* sockets.admit(request, websocketPath)
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
        const client = yield* sockets.accept(request, socket, head, response.headers)
        return {
          key,
          authorization: headers["authorization"] ?? "",
          route,
          accountId,
          client,
          upstream: response.socket
        }
      })

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

    // Frames both ways until either side closes; every response.create is admitted and accounted as it passes. A
    // draining gateway closes the socket once no response is under way.
    const bridge = (opened: Effect.Effect.Success<ReturnType<typeof open>>) =>
      Effect.gen(function*() {
        const { key, route, accountId, client } = opened
        const ledger = makeResponseLedger({
          accounting,
          quota,
          health,
          poolId: key.poolId,
          keyId: key.keyId,
          accountId,
          run: sockets.run
        })
        const closed = yield* sockets.bridge(opened, (stopped) => ({
          observer: {
            fromUpstream: ledger.fromUpstream,
            gate: makeGate({
              metrics,
              authenticate: auth.authenticate(Headers.fromInput({ authorization: opened.authorization })),
              admit: (current, model) =>
                ledger.open(model, (record) => limiter.admit(current.keyId, current.limits, model, record)),
              stopped
            }),
            hold: makeHold(route, accountId, client)
          },
          idle: ledger.idle
        }))
        ledger.close(closed.by)
      })

    // The gateway's own answer when it makes one; null when upstream's refusal is relayed as it came.
    const refused = (refused: UpgradeRefused) =>
      refused.status === 426 || refused.status === 404
        ? new UpgradeRequired()
        : refused.status === 401
        ? new NoAccountAvailable({ reason: "none_eligible" })
        : null

    const served = new Map([
      [websocketPath, sockets.serving({ open, bridge, refused })],
      [realtimePath, sockets.serving(yield* makeSideband(sockets))]
    ])

    // Only Codex's websocket routes take an upgrade, matched exactly (no case folding, no path parameters).
    const handle = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => socket.destroy())
      const path = (request.url ?? "").split("?")[0] ?? ""
      const serve = served.get(path)
      if (serve !== undefined) return serve(request, socket, head)
      sockets.run(metrics.gatewayError(refuse(socket, new WebSocketNotSupported({ path: path.slice(0, 200) }))))
    }

    return { handle, stats: sockets.stats, drain: sockets.drain, openSockets: sockets.openSockets } as const
  }),
  dependencies: [
    Metrics.Default,
    AccountHealth.Default,
    PoolAuth.Default,
    AccountSelector.Default,
    AccountCredentials.Default,
    SessionStore.Default,
    Accounting.Default,
    Quota.Default,
    RealtimeCalls.Default
  ]
}) {}
