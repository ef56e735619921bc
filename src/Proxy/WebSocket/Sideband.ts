import { Effect, Either } from "effect"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import { AccountCredentials } from "../../AccountCredentials.ts"
import { Accounting } from "../../Accounting.ts"
import { RealtimeUrl } from "../../Config.ts"
import { callIdPattern, RealtimeCalls } from "../../RealtimeCalls.ts"
import { InvalidQuery, NoAccountAvailable } from "../Errors.ts"
import { accountHeaders, forwardRequestHeaders } from "../Headers.ts"
import { queryToken, readQuery } from "../Query.ts"
import type { FrameObserver } from "./Frames.ts"
import { openSidebandRow } from "./SidebandRow.ts"
import type { Session, Sockets } from "./Sockets.ts"
import { connectUpstream, UpgradeRefused } from "./Upstream.ts"

export const realtimePath = "/backend-api/codex/realtime"

// The join names the call Codex made through POST /realtime/calls (required: a standalone realtime socket would be a
// model session of its own, carrying its audio through the gateway, which no call binds to an account) and Codex's
// intent, passed on; nothing else of the query is.
const joinQuery = (url: string) =>
  Effect.flatMap(readQuery(url, [["call_id", callIdPattern], ["intent", queryToken]]), (query) => {
    const callId = query.get("call_id")
    if (callId === undefined) {
      return Effect.fail(
        new InvalidQuery({
          message: "query parameter call_id is required: join a call made with POST /backend-api/codex/realtime/calls"
        })
      )
    }
    return Effect.succeed({ callId, intent: query.get("intent") })
  })

// Admission happened when the call was made: every frame passes as it came, until the gateway closes the socket. The
// gateway sees no response boundary here, so a draining gateway closes the socket at once (idle); a join of the same
// call through another instance finds it bound in the database.
const forwardAll = (stopped: () => boolean): Omit<FrameObserver, "delivered"> => ({
  fromUpstream: () => undefined,
  gate: () => stopped() ? Buffer.alloc(0) : null,
  hold: () => "forward"
})

// A voice call's sideband: the websocket on which Codex joins the call it made through the gateway, to steer it with
// JSON events. The call lives on the account that made it (RealtimeCalls), so the join goes there, with that account's
// credentials, or nowhere: there is no other account to fail over to. Phases: admit → find the call → account row →
// connect upstream (the token refreshed once on a 401) → upgrade → bridge.
export const makeSideband = (sockets: Sockets) =>
  Effect.gen(function*() {
    const calls = yield* RealtimeCalls
    const credentials = yield* AccountCredentials
    const accounting = yield* Accounting
    const base = yield* RealtimeUrl

    const upstreamUrl = (callId: string, intent: string | undefined) => {
      const url = new URL(base)
      if (intent !== undefined) url.searchParams.set("intent", intent)
      url.searchParams.set("call_id", callId)
      return url.toString()
    }

    const open = (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      Effect.gen(function*() {
        const { headers, key } = yield* sockets.admit(request, realtimePath)
        const { callId, intent } = yield* joinQuery(request.url ?? "")
        const accountId = yield* calls.accountOf(callId, key.poolId)
        const row = yield* openSidebandRow(accounting, { poolId: key.poolId, keyId: key.keyId, accountId })
        const forwarded = forwardRequestHeaders(headers)
        const upstream = yield* credentials.withCredential(
          accountId,
          (credential) =>
            connectUpstream(
              upstreamUrl(callId, intent),
              { ...forwarded, ...accountHeaders(credential) },
              sockets.maxPayload
            ),
          (outcome) => Either.isLeft(outcome) && outcome.left instanceof UpgradeRefused && outcome.left.status === 401
        )
        const client = yield* sockets.accept(request, socket, head, upstream.headers)
        row.upgraded()
        return { client, upstream: upstream.socket, authorization: headers["authorization"] ?? "", accountId, row }
      })

    const session: Session<Effect.Effect.Success<ReturnType<typeof open>>> = {
      open,
      bridge: (opened) =>
        Effect.map(
          sockets.bridge(opened, (stopped) => ({ observer: forwardAll(stopped), idle: () => true })),
          opened.row.closed
        ),
      // The call's account refused even a fresh token: it cannot serve, and which account it was stays unsaid.
      refused: (refused) => refused.status === 401 ? new NoAccountAvailable({ reason: "none_eligible" }) : null
    }
    return session
  })
