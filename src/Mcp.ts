import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { Cause, Clock, Duration, Effect, FiberSet, Schedule } from "effect"
import { randomUUID } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Accounts } from "./Accounts.ts"
import { Activity } from "./Activity.ts"
import { forkLoop } from "./Background.ts"
import { McpSessionsMax, McpSessionsPerToken } from "./Config.ts"
import { bearerToken, jsonRpcError, missingCredential, rejectCredential } from "./Mcp/Auth.ts"
import { FleetRepo } from "./Mcp/FleetRepo.ts"
import { makeSessionServer, type Principal } from "./Mcp/Session.ts"
import { makeSessions, type OpenSession } from "./Mcp/Sessions.ts"
import { allTools } from "./Mcp/Tools.ts"
import { OperatorTokens } from "./OperatorTokens.ts"
import { PoolKeys } from "./PoolKeys.ts"
import { Pools } from "./Pools.ts"
import { Quota } from "./Quota.ts"
import { ResetCredits } from "./ResetCredits.ts"
import { SignIns } from "./SignIns.ts"

// Sessions a client never ended (no DELETE) are closed after this long without a request.
const idleLimit = Duration.hours(1)

// The operator MCP endpoint at /mcp: Streamable HTTP, one stateful session per client, each request
// authenticated again with its operator token (a revoked token stops working mid-session).
export class Mcp extends Effect.Service<Mcp>()("Gateway/Mcp", {
  scoped: Effect.gen(function*() {
    const tokens = yield* OperatorTokens
    const tools = yield* allTools
    const fork = yield* FiberSet.makeRuntime()
    const run = yield* FiberSet.makeRuntimePromise()
    const limits = { perToken: yield* McpSessionsPerToken, total: yield* McpSessionsMax }

    const close = (session: OpenSession<StreamableHTTPServerTransport>) =>
      Effect.tryPromise(() => session.transport.close())
    const evicted = (session: OpenSession<StreamableHTTPServerTransport>) =>
      close(session).pipe(Effect.catchAll((error) => Effect.logWarning("closing an evicted mcp session failed", error)))
    const sessions = makeSessions<StreamableHTTPServerTransport>(limits, (session) => void fork(evicted(session)))

    // Every session is closed, even where another one's close fails.
    const closeEach = (taken: ReadonlyArray<OpenSession<StreamableHTTPServerTransport>>) =>
      Effect.validateAll(taken, close, { discard: true })
    const closeAll = Effect.suspend(() => closeEach(sessions.takeAll())).pipe(
      Effect.catchAll((errors) => Effect.logWarning("closing mcp sessions failed", errors))
    )
    yield* Effect.addFinalizer(() => closeAll)
    const evictIdle = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* closeEach(sessions.takeIdle(now - Duration.toMillis(idleLimit)))
    })
    yield* forkLoop("mcp idle sessions", evictIdle, Schedule.spaced("1 minute"))

    const open = (principal: Principal, now: number) => {
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: true,
        onsessioninitialized: (id) => sessions.add(id, { transport, principal, lastSeen: now }),
        onsessionclosed: (id) => sessions.remove(id)
      })
      transport.onclose = () => {
        if (transport.sessionId !== undefined) sessions.remove(transport.sessionId)
      }
      return transport
    }

    const serve = (request: IncomingMessage, response: ServerResponse) =>
      Effect.gen(function*() {
        const token = bearerToken(request)
        if (token === undefined) return rejectCredential(response, missingCredential)
        const verified = yield* Effect.either(tokens.verify(token))
        if (verified._tag === "Left") return rejectCredential(response, verified.left)
        const principal = { tokenId: verified.right.id, scope: verified.right.scope }
        const now = yield* Clock.currentTimeMillis
        const sessionId = request.headers["mcp-session-id"]
        if (typeof sessionId === "string") {
          const session = sessions.get(sessionId)
          // Another token's session reads as unknown, so session ids cannot be borrowed.
          if (session === undefined || session.principal.tokenId !== principal.tokenId) {
            return jsonRpcError(response, 404, -32001, "Session not found")
          }
          sessions.seen(sessionId, now)
          return yield* Effect.promise(() => session.transport.handleRequest(request, response))
        }
        if (request.method !== "POST") return jsonRpcError(response, 400, -32000, "Mcp-Session-Id header is required")
        const transport = open(principal, now)
        const server = makeSessionServer(tools, principal, run)
        yield* Effect.promise(() => server.connect(transport))
        yield* Effect.promise(() => transport.handleRequest(request, response))
        // Anything but an initialize request leaves no session behind.
        if (transport.sessionId === undefined) yield* Effect.promise(() => server.close())
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logError("mcp request failed", Cause.pretty(cause)).pipe(
            Effect.andThen(() => {
              if (!response.headersSent) jsonRpcError(response, 500, -32603, "Internal error")
              else response.end()
            })
          )
        ),
        Effect.withSpan("Mcp.handle")
      )

    const handle = (request: IncomingMessage, response: ServerResponse) => void fork(serve(request, response))

    return { handle, closeAll } as const
  }),
  dependencies: [
    OperatorTokens.Default,
    Pools.Default,
    Accounts.Default,
    PoolKeys.Default,
    Quota.Default,
    FleetRepo.Default,
    Activity.Default,
    ResetCredits.Default,
    SignIns.Default
  ]
}) {}
