import { Effect, Stream } from "effect"
import WebSocket from "ws"

export interface Frame {
  readonly data: Buffer
  readonly isBinary: boolean
}

export interface Closed {
  readonly by: "client" | "upstream" | "gateway"
  readonly code: number
}

export interface FrameObserver {
  readonly fromUpstream: (data: Buffer, isBinary: boolean) => void
  // Client frames the gateway answers itself instead of forwarding (a refused response.create): the reply, or null.
  readonly gate: (data: Buffer, isBinary: boolean) => Effect.Effect<Buffer | null>
  // Upstream frames the gateway keeps from the client (the session is moving to another account), or forwards.
  readonly hold: (data: Buffer, isBinary: boolean) => Effect.Effect<"forward" | "drop">
  // Runs once an upstream frame has been handed to the client's socket.
  readonly delivered?: Effect.Effect<void>
}

// Observed across all bridges, for tests and, later, metrics.
export interface BufferStats {
  // most bytes queued in a socket towards its peer
  maxBuffered: number
  // most bytes of received frames waiting in a bridge's stream
  maxQueued: number
  pauses: number
}

// Bytes queued towards a peer before the relay waits for it, and frames a socket may have waiting in its stream
// before it is paused: together they bound what a bridge holds for a reader that stops reading.
export const highWaterMark = 4 * 1024 * 1024
export const queueLimit = 1024 * 1024
const frameBuffer = 32
const pingEveryMs = 30_000

// 1005 (no status) and 1006 (abnormal) are reported, never sent; they, and any other code RFC 6455 does not let an
// endpoint send (ws throws on those), become codes a peer may receive.
export const sendableCode = (code: number) =>
  code === 1005
    ? 1000
    : (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1006) || (code >= 3000 && code <= 4999)
    ? code
    : 1011

const toBuffer = (data: WebSocket.RawData): Buffer =>
  Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)

// A socket's incoming frames as a Stream that fails with the close. The socket is paused while its frames wait in
// the stream's buffer, so TCP pushes back on the sender instead of the gateway queueing without bound.
const incoming = (socket: WebSocket, by: Closed["by"], stats: BufferStats) =>
  Stream.asyncScoped<Frame, Closed>((emit) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        let frames = 0
        let bytes = 0
        const onMessage = (raw: WebSocket.RawData, isBinary: boolean) => {
          const data = toBuffer(raw)
          frames++
          bytes += data.length
          stats.maxQueued = Math.max(stats.maxQueued, bytes)
          if ((frames >= frameBuffer || bytes >= queueLimit) && !socket.isPaused) socket.pause()
          void emit.single({ data, isBinary }).then(() => {
            frames--
            bytes -= data.length
            if (frames <= frameBuffer / 2 && bytes <= queueLimit / 4 && socket.isPaused) socket.resume()
          })
        }
        const onClose = (code: number) => void emit.fail({ by, code })
        // A frame that breaks RFC 6455: ws has already sent its close code (1002, 1007, 1009) and will drop the
        // connection; the bridge ends now rather than when the peer answers.
        const onError = () => void emit.fail({ by, code: 1006 })
        socket.on("message", onMessage)
        socket.once("close", onClose)
        socket.once("error", onError)
        // Closed or closing before the stream began (an error, or a close, while the bridge was being set up).
        if (socket.readyState === WebSocket.CLOSING || socket.readyState === WebSocket.CLOSED) onError()
        return () => {
          socket.off("message", onMessage)
          socket.off("close", onClose)
          socket.off("error", onError)
        }
      }),
      (detach) => Effect.sync(detach)
    ), { bufferSize: frameBuffer, strategy: "suspend" })

// Sends a frame unmodified (text stays text, binary stays binary); once the peer has more than the high-water mark
// queued, waits until this frame has left before taking the next.
const send = (to: WebSocket, frame: Frame, stats: BufferStats) =>
  Effect.async<void>((resume) => {
    if (to.readyState !== WebSocket.OPEN) return resume(Effect.void)
    let waiting = false
    to.send(frame.data, { binary: frame.isBinary }, () => {
      if (waiting) resume(Effect.void)
    })
    stats.maxBuffered = Math.max(stats.maxBuffered, to.bufferedAmount)
    if (to.bufferedAmount <= highWaterMark) return resume(Effect.void)
    stats.pauses++
    waiting = true
  })

// Pings keep quiet sockets alive through proxies; a side that has not answered the previous ping is gone. A bridge
// with no frame either way for the idle timeout is closed (1000): Codex reconnects on its next turn.
const keepAlive = (sockets: ReadonlyArray<WebSocket>, idleTimeoutMs: number, activity: { last: number }) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const answered = new Set(sockets)
      for (const socket of sockets) socket.on("pong", () => answered.add(socket))
      const pings = setInterval(() => {
        for (const socket of sockets) {
          if (socket.readyState !== WebSocket.OPEN) continue
          if (answered.delete(socket)) socket.ping()
          else socket.terminate()
        }
      }, pingEveryMs)
      const idle = setInterval(() => {
        if (Date.now() - activity.last < idleTimeoutMs) return
        for (const socket of sockets) if (socket.readyState === WebSocket.OPEN) socket.close(1000, "idle timeout")
      }, Math.max(10, Math.min(idleTimeoutMs / 4, pingEveryMs)))
      return [pings, idle]
    }),
    (timers) => Effect.sync(() => timers.forEach(clearInterval))
  )

// Both directions as Streams through the same kind of tap as the SSE relay; completes when either side closes,
// carrying the close code across. Interrupted (shutdown, revocation), it closes both sides.
export const bridgeFrames = (
  client: WebSocket,
  upstream: WebSocket,
  observer: FrameObserver,
  options: { readonly stats: BufferStats; readonly idleTimeoutMs: number }
) => {
  const stats = options.stats
  const activity = { last: Date.now() }
  const pipe = (
    from: WebSocket,
    to: WebSocket,
    by: Closed["by"],
    observe: FrameObserver["fromUpstream"] | undefined,
    gate: FrameObserver["gate"],
    delivered: Effect.Effect<void> = Effect.void
  ) =>
    incoming(from, by, stats).pipe(
      Stream.tap(() => Effect.sync(() => (activity.last = Date.now()))),
      Stream.runForEach((frame) =>
        Effect.flatMap(gate(frame.data, frame.isBinary), (reply) =>
          reply === null
            ? Effect.sync(() => observe?.(frame.data, frame.isBinary)).pipe(
              Effect.zipRight(send(to, frame, stats)),
              Effect.zipRight(delivered)
            )
            : reply.length === 0
            ? Effect.void
            : send(from, { data: reply, isBinary: false }, stats))
      )
    )
  const fromUpstream = (data: Buffer, isBinary: boolean) =>
    Effect.map(observer.hold(data, isBinary), (verdict) => verdict === "drop" ? Buffer.alloc(0) : null)
  return keepAlive([client, upstream], options.idleTimeoutMs, activity).pipe(
    Effect.zipRight(Effect.raceFirst(
      pipe(client, upstream, "client", undefined, observer.gate),
      pipe(upstream, client, "upstream", observer.fromUpstream, fromUpstream, observer.delivered)
    )),
    Effect.match({
      onFailure: (closed): Closed => {
        const other = closed.by === "client" ? upstream : client
        if (other.readyState === WebSocket.OPEN) other.close(sendableCode(closed.code))
        return closed
      },
      onSuccess: (): Closed => ({ by: "gateway", code: 1000 })
    }),
    Effect.onInterrupt(() =>
      Effect.sync(() => {
        client.close(1001, "gateway going away")
        upstream.close(1001, "gateway going away")
      })
    ),
    Effect.scoped
  )
}
