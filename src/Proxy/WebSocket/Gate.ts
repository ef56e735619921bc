import { Cause, Effect } from "effect"
import type { Metrics } from "../../Metrics.ts"
import type { AuthenticatedKey } from "../../PoolAuth.ts"
import { errorAnswer, fromDefect, type ProxyError } from "../ErrorResponse.ts"
import { readClientFrame } from "./ClientFrames.ts"

// Codex's websocket error frame ({type:"error", status, error, headers}, codex-protocol.md §5): Codex maps it like
// an HTTP answer with that status, so a refused frame reads as the 4xx it is (400 is a fatal invalid request, shown
// to the user with its message, where a close would only make Codex reconnect and send the same frame again). The
// socket stays open; nothing of the frame goes upstream.
const errorFrame = (metrics: Metrics, error: ProxyError) => {
  const answer = errorAnswer(error)
  return Effect.as(
    metrics.gatewayError(answer),
    Buffer.from(JSON.stringify({ type: "error", status: answer.status, ...answer.body, headers: answer.headers }))
  )
}

// What the bridge does with each client frame: null forwards it, a buffer is the gateway's own reply, an empty one
// drops it. Every response.create is held to the key's policy as it stands now (the key re-read through PoolAuth's
// short cache, so limits set while the socket is open apply to its next response), and the ledger opens its row as
// it is admitted.
export const makeGate = (options: {
  readonly metrics: Metrics
  readonly authenticate: Effect.Effect<AuthenticatedKey, ProxyError>
  readonly admit: (key: AuthenticatedKey, model: string) => Effect.Effect<void, ProxyError>
  // the socket is being closed by the gateway (revoked key, paused account): nothing more goes upstream
  readonly stopped: () => boolean
}) =>
(data: Buffer, isBinary: boolean): Buffer | null | Effect.Effect<Buffer | null> => {
  if (options.stopped()) return Buffer.alloc(0)
  const frame = readClientFrame(data, isBinary)
  if (frame._tag === "Refused") return errorFrame(options.metrics, frame.error)
  if (frame._tag === "Other") return null
  return options.authenticate.pipe(
    Effect.flatMap((key) => options.admit(key, frame.model)),
    Effect.as(null),
    Effect.catchAll((error) => errorFrame(options.metrics, error)),
    // the database gone while admitting (503, which Codex retries) or a bug (500): answered, and the socket lives on
    Effect.catchAllDefect((defect) =>
      Effect.flatMap(fromDefect(Cause.die(defect)), (error) => errorFrame(options.metrics, error))
    )
  )
}
