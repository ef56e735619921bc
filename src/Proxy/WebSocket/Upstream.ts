import { Data, Effect } from "effect"
import WebSocket from "ws"
import { flattenHeaders } from "../../UpstreamClient.ts"
import { UpstreamUnavailable } from "../Errors.ts"
import { errorBodyLimit } from "../Json.ts"
import { closeWithin } from "./Closing.ts"

export interface UpstreamSocket {
  readonly socket: WebSocket
  readonly headers: Readonly<Record<string, string>>
}

// Upstream answered the upgrade with an HTTP response instead of switching protocols.
export class UpgradeRefused extends Data.TaggedError("UpgradeRefused")<{
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
}> {}

// Codex's own websocket connect timeout (codex-protocol.md §5): it has given up on the client side by then. It bounds
// the whole upgrade, a refusal's body included.
const openTimeoutMs = 15_000

// After the upgrade an error (a frame upstream got wrong) closes the socket, which the bridge sees as its close; the
// socket still needs a listener, or the error would take the process down.
const ignore = () => undefined

const open = (url: string, headers: Readonly<Record<string, string>>, maxPayload: number) =>
  Effect.async<UpstreamSocket, UpgradeRefused | UpstreamUnavailable>((resume) => {
    const options = { headers, handshakeTimeout: openTimeoutMs, perMessageDeflate: false, maxPayload }
    const socket = new WebSocket(url, options)
    let settled = false
    const settle = (outcome: Effect.Effect<UpstreamSocket, UpgradeRefused | UpstreamUnavailable>) => {
      if (settled) return
      settled = true
      resume(outcome)
    }
    let upgradeHeaders: Record<string, string> = {}
    socket.once("upgrade", (response) => (upgradeHeaders = flattenHeaders(response.headers)))
    socket.once("open", () => {
      // The listeners for the upgrade hold the request's options (the account's headers among them): once open, the
      // socket keeps only what its life needs.
      socket.removeAllListeners("unexpected-response")
      socket.off("error", onOpenError)
      socket.on("error", ignore)
      settle(Effect.succeed({ socket, headers: upgradeHeaders }))
    })
    socket.once("unexpected-response", (request, response) => {
      const chunks: Array<Buffer> = []
      let size = 0
      response.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size <= errorBodyLimit) chunks.push(chunk)
      })
      response.once("end", () => {
        settle(Effect.fail(
          new UpgradeRefused({
            status: response.statusCode ?? 502,
            headers: flattenHeaders(response.headers),
            body: Buffer.concat(chunks)
          })
        ))
        request.destroy()
      })
      response.on("error", () => settle(Effect.fail(new UpstreamUnavailable({ reason: "upgrade_response_broken" }))))
    })
    const onOpenError = (error: Error) => {
      const reason = "code" in error && typeof error.code === "string" ? error.code : error.message
      settle(Effect.fail(new UpstreamUnavailable({ reason })))
    }
    socket.on("error", onOpenError)
    return Effect.sync(() => socket.terminate())
  }).pipe(
    Effect.timeoutFail({
      duration: openTimeoutMs,
      onTimeout: () => new UpstreamUnavailable({ reason: "upgrade_timeout" })
    })
  )

// The upstream half of a bridge, once upstream has switched protocols, with its upgrade response headers. It is
// closed (and, if upstream does not answer the close, cut) when the scope ends, however the bridge ended.
export const connectUpstream = (url: string, headers: Readonly<Record<string, string>>, maxPayload: number) =>
  Effect.uninterruptibleMask((restore) =>
    restore(open(url, headers, maxPayload)).pipe(
      Effect.tap((upstream) =>
        Effect.addFinalizer(() => Effect.sync(() => closeWithin(upstream.socket, 1001, "bridge closed")))
      )
    )
  )
