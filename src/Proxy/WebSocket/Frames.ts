import { Effect, Fiber } from "effect"
import WebSocket from "ws"

export interface Frame {
  readonly data: Buffer
  readonly isBinary: boolean
}

export interface Closed {
  readonly by: "client" | "upstream" | "gateway"
  readonly code: number
}

// Each check answers at once when it can (the common case: a frame passed as it came) and with an Effect only when it
// must wait; the relay suspends only then.
export interface FrameObserver {
  readonly fromUpstream: (data: Buffer, isBinary: boolean) => void
  // Client frames the gateway answers itself instead of forwarding (a refused response.create): the reply, or null.
  readonly gate: (data: Buffer, isBinary: boolean) => Buffer | null | Effect.Effect<Buffer | null>
  // Upstream frames the gateway keeps from the client (the session is moving to another account), or forwards.
  readonly hold: (data: Buffer, isBinary: boolean) => "forward" | Effect.Effect<"forward" | "drop">
  // Runs once an upstream frame has been handed to the client's socket.
  readonly delivered?: () => void
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
const defaultPingEveryMs = 30_000

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

// A socket's incoming frames, waiting to be relayed in order, then its close. Each `take` hands over every frame that
// arrived since the last one (one fiber resumption per burst, not per frame); the socket is paused while too many
// frames or bytes wait, so TCP pushes back on the sender instead of the gateway queueing without bound.
//
// Why not Stream.asyncScoped and Stream.runForEach, as the first bridge had: with them an idle bridged socket held
// 127 KB of live heap, 93 KB of it in their machinery (forked fibers, channel executors, scopes, queues; measured by a
// heap-snapshot diff, BENCHMARKS.md). A plain inbox and one loop per direction keep the same order, bounds,
// backpressure and interruption for a fraction of that.
const makeInbox = (socket: WebSocket, by: Closed["by"], stats: BufferStats) => {
  let frames: Array<Frame> = []
  let pending = 0
  let bytes = 0
  let closed: Closed | null = null
  // the other side's close, which ends this side's loop at once
  let stopped: Closed | null = null
  let waiting: ((next: Effect.Effect<ReadonlyArray<Frame>, Closed>) => void) | null = null
  const ready = () =>
    stopped !== null
      ? Effect.fail(stopped)
      : frames.length > 0
      ? Effect.succeed(frames.splice(0))
      : closed === null
      ? null
      : Effect.fail(closed)
  const wake = () => {
    if (waiting === null) return
    const next = ready()
    if (next === null) return
    const resume = waiting
    waiting = null
    resume(next)
  }
  const onMessage = (raw: WebSocket.RawData, isBinary: boolean) => {
    const data = toBuffer(raw)
    frames.push({ data, isBinary })
    pending++
    bytes += data.length
    stats.maxQueued = Math.max(stats.maxQueued, bytes)
    if ((pending >= frameBuffer || bytes >= queueLimit) && !socket.isPaused) socket.pause()
    wake()
  }
  const onClose = (code: number) => {
    closed ??= { by, code }
    wake()
  }
  // A frame that breaks RFC 6455: ws has already sent its close code (1002, 1007, 1009) and will drop the connection;
  // the bridge ends now rather than when the peer answers.
  const onError = () => onClose(1006)
  socket.on("message", onMessage)
  socket.once("close", onClose)
  socket.once("error", onError)
  // Closed or closing before the bridge began (an error, or a close, while it was being set up).
  if (socket.readyState === WebSocket.CLOSING || socket.readyState === WebSocket.CLOSED) onError()
  return {
    take: Effect.async<ReadonlyArray<Frame>, Closed>((resume) => {
      const next = ready()
      if (next !== null) return resume(next)
      waiting = resume
      return Effect.sync(() => void (waiting = null))
    }),
    stop: (other: Closed) => {
      stopped = other
      wake()
    },
    // A frame has been relayed (or answered): it no longer counts against the bounds.
    relayed: (frame: Frame) => {
      pending--
      bytes -= frame.data.length
      if (pending <= frameBuffer / 2 && bytes <= queueLimit / 4 && socket.isPaused) socket.resume()
    },
    detach: () => {
      socket.off("message", onMessage)
      socket.off("close", onClose)
      socket.off("error", onError)
      frames = []
    }
  }
}

// Sends a frame unmodified (text stays text, binary stays binary); once the peer has more than the high-water mark
// queued, the Effect returned waits until this frame has left before the next is taken (undefined: no need to wait).
const send = (to: WebSocket, frame: Frame, stats: BufferStats): Effect.Effect<void> | undefined => {
  if (to.readyState !== WebSocket.OPEN) return undefined
  let left = false
  let onLeft: (() => void) | null = null
  to.send(frame.data, { binary: frame.isBinary }, () => {
    left = true
    onLeft?.()
  })
  stats.maxBuffered = Math.max(stats.maxBuffered, to.bufferedAmount)
  if (to.bufferedAmount <= highWaterMark) return undefined
  stats.pauses++
  return Effect.async<void>((resume) => {
    if (left) return resume(Effect.void)
    onLeft = () => resume(Effect.void)
  })
}

// A batch of frames relayed in a plain loop, in order: the loop leaves for Effect only at a frame that has to wait,
// and carries on after it. One fiber step per batch instead of several per frame (measured: the per-frame Effect
// steps were most of a relayed frame's CPU).
const relayAll = (
  frames: ReadonlyArray<Frame>,
  relay: (frame: Frame) => Effect.Effect<void> | undefined
): Effect.Effect<void> => {
  const from = (index: number): Effect.Effect<void> => {
    for (let at = index; at < frames.length; at++) {
      const frame = frames[at]
      const waiting = frame === undefined ? undefined : relay(frame)
      if (waiting !== undefined) return Effect.flatMap(waiting, () => from(at + 1))
    }
    return Effect.void
  }
  return from(0)
}

// Pings keep quiet sockets alive through proxies; a side that has not answered the previous ping is gone. A bridge
// with no frame either way for the idle timeout is closed (1000): Codex reconnects on its next turn. One timer for
// every bridge of the gateway, not two per bridge.
interface Kept {
  readonly sockets: readonly [WebSocket, WebSocket]
  readonly activity: { last: number }
  nextPing: number
}

export type KeepAlive = Effect.Effect.Success<ReturnType<typeof makeKeepAlive>>

export const makeKeepAlive = (idleTimeoutMs: number, pingEveryMs = defaultPingEveryMs) =>
  Effect.gen(function*() {
    const bridges = new Set<Kept>()
    const awaitingPong = new Set<WebSocket>()
    function onPong(this: WebSocket) {
      awaitingPong.delete(this)
    }
    const tick = () => {
      const now = Date.now()
      for (const bridge of bridges) {
        const idle = now - bridge.activity.last >= idleTimeoutMs
        const ping = now >= bridge.nextPing
        if (ping) bridge.nextPing = now + pingEveryMs
        for (const socket of bridge.sockets) {
          if (socket.readyState !== WebSocket.OPEN) continue
          if (idle) socket.close(1000, "idle timeout")
          else if (!ping) continue
          else if (awaitingPong.has(socket)) socket.terminate()
          else {
            awaitingPong.add(socket)
            socket.ping()
          }
        }
      }
    }
    const every = Math.max(10, Math.min(idleTimeoutMs / 4, pingEveryMs))
    yield* Effect.acquireRelease(
      Effect.sync(() => setInterval(tick, every)),
      (timer) => Effect.sync(() => clearInterval(timer))
    )
    return (sockets: readonly [WebSocket, WebSocket], activity: { last: number }) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const kept: Kept = { sockets, activity, nextPing: Date.now() + pingEveryMs }
          for (const socket of sockets) socket.on("pong", onPong)
          bridges.add(kept)
          return kept
        }),
        (kept) =>
          Effect.sync(() => {
            bridges.delete(kept)
            for (const socket of sockets) {
              socket.off("pong", onPong)
              awaitingPong.delete(socket)
            }
          })
      )
  })

type Inbox = ReturnType<typeof makeInbox>

// Both directions, each one loop taking from its socket's inbox, through the same kind of tap as the SSE relay:
// upstream's in a fiber of its own, the client's in the caller's. Completes when either side closes, carrying the
// close code across; the frames that arrived before a close are relayed first. Interrupted (shutdown, revocation), it
// closes both sides.
export const bridgeFrames = (
  client: WebSocket,
  upstream: WebSocket,
  observer: FrameObserver,
  options: { readonly stats: BufferStats; readonly keepAlive: KeepAlive }
) => {
  const stats = options.stats
  const activity = { last: Date.now() }
  const pump = (inbox: Inbox, relay: (frame: Frame) => Effect.Effect<void> | undefined) =>
    Effect.forever(Effect.flatMap(inbox.take, (frames) => {
      activity.last = Date.now()
      return relayAll(frames, relay)
    }))
  return Effect.gen(function*() {
    const [fromClient, fromUpstream] = yield* Effect.acquireRelease(
      Effect.sync(() => [makeInbox(client, "client", stats), makeInbox(upstream, "upstream", stats)] as const),
      (inboxes) => Effect.sync(() => inboxes.forEach((inbox) => inbox.detach()))
    )
    yield* options.keepAlive([client, upstream], activity)
    // Upstream → client: held or forwarded, observed, then reported delivered.
    const toClient = (frame: Frame) => {
      fromUpstream.relayed(frame)
      observer.fromUpstream(frame.data, frame.isBinary)
      const waiting = send(client, frame, stats)
      if (waiting === undefined) return void observer.delivered?.()
      return Effect.tap(waiting, () => observer.delivered?.())
    }
    // When upstream has closed (its frames relayed first), the client's loop is stopped with its close.
    yield* Effect.acquireRelease(
      Effect.fork(
        pump(fromUpstream, (frame) => {
          const verdict = observer.hold(frame.data, frame.isBinary)
          if (verdict === "forward") return toClient(frame)
          return Effect.flatMap(verdict, (held) => {
            if (held === "forward") return toClient(frame) ?? Effect.void
            fromUpstream.relayed(frame)
            return Effect.void
          })
        }).pipe(Effect.catchAll((closed) => Effect.sync(() => fromClient.stop(closed))))
      ),
      Fiber.interrupt
    )
    // Client → upstream: each frame passes the gate first; a frame it answers goes back to the client instead.
    const answer = (frame: Frame, reply: Buffer | null) => {
      fromClient.relayed(frame)
      return reply === null
        ? send(upstream, frame, stats)
        : reply.length === 0
        ? undefined
        : send(client, { data: reply, isBinary: false }, stats)
    }
    return yield* pump(fromClient, (frame) => {
      const reply = observer.gate(frame.data, frame.isBinary)
      return Effect.isEffect(reply)
        ? Effect.flatMap(reply, (decided) => answer(frame, decided) ?? Effect.void)
        : answer(frame, reply)
    })
  }).pipe(
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
