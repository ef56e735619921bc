import { Data, Effect } from "effect"
import WebSocket from "ws"
import { flattenHeaders } from "../../UpstreamClient.ts"
import { UpstreamUnavailable } from "../Errors.ts"
import { errorBodyLimit } from "../Json.ts"

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

// The upstream half of a bridge: resolves once upstream has switched protocols, with its upgrade response headers.
export const connectUpstream = (url: string, headers: Readonly<Record<string, string>>) =>
  Effect.async<UpstreamSocket, UpgradeRefused | UpstreamUnavailable>((resume) => {
    const socket = new WebSocket(url, { headers, handshakeTimeout: 15_000, perMessageDeflate: false })
    let upgradeHeaders: Record<string, string> = {}
    socket.once("upgrade", (response) => (upgradeHeaders = flattenHeaders(response.headers)))
    socket.once("open", () => resume(Effect.succeed({ socket, headers: upgradeHeaders })))
    socket.once("unexpected-response", (request, response) => {
      const chunks: Array<Buffer> = []
      let size = 0
      response.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size <= errorBodyLimit) chunks.push(chunk)
      })
      response.once("end", () => {
        resume(Effect.fail(new UpgradeRefused({
          status: response.statusCode ?? 502,
          headers: flattenHeaders(response.headers),
          body: Buffer.concat(chunks)
        })))
        request.destroy()
      })
      response.once("error", () => resume(Effect.fail(new UpstreamUnavailable({ reason: "upgrade_response_broken" }))))
    })
    socket.once("error", (error) => {
      const reason = "code" in error && typeof error.code === "string" ? error.code : error.message
      resume(Effect.fail(new UpstreamUnavailable({ reason })))
    })
    return Effect.sync(() => socket.terminate())
  })
