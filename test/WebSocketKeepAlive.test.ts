import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { AddressInfo } from "node:net"
import WebSocket, { WebSocketServer } from "ws"
import { makeKeepAlive } from "../src/Proxy/WebSocket/Frames.ts"

// Two loopback socket pairs: the gateway's ends (what the keep-alive holds) and their peers, one of which may be
// told not to answer pings.
const pairs = (peerAnswersPings: readonly [boolean, boolean]) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })
      await new Promise<void>((resolve) => server.once("listening", () => resolve()))
      const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
      const ends: Array<WebSocket> = []
      const peers: Array<WebSocket> = []
      for (const autoPong of peerAnswersPings) {
        const accepted = new Promise<WebSocket>((resolve) => server.once("connection", resolve))
        const peer = new WebSocket(url, { autoPong })
        await new Promise<void>((resolve) => peer.once("open", () => resolve()))
        peers.push(peer)
        ends.push(await accepted)
      }
      const closed = peers.map((peer) =>
        new Promise<{ code: number; reason: string }>((resolve) =>
          peer.once("close", (code, reason) => resolve({ code, reason: reason.toString() }))
        )
      )
      const [first, second] = ends
      if (first === undefined || second === undefined) throw new Error("no sockets")
      return { server, ends: [first, second] as const, peers, closed }
    }),
    ({ peers, server }) =>
      Effect.sync(() => {
        for (const peer of peers) peer.terminate()
        server.close()
      })
  )

describe("websocket keep-alive", () => {
  it.scopedLive("a side that does not answer a ping by the next one is cut; a side that answers stays", () =>
    Effect.gen(function*() {
      const { ends, closed } = yield* pairs([false, true])
      const keepAlive = yield* makeKeepAlive(60_000, 50)
      yield* keepAlive(ends, { last: Date.now() })
      // terminated: the peer sees the connection drop without a close frame
      expect((yield* Effect.promise(() => closed[0] ?? Promise.reject(new Error("no peer")))).code).toBe(1006)
      yield* Effect.sleep("300 millis")
      expect(ends[1].readyState).toBe(WebSocket.OPEN)
    }))

  it.scopedLive("a bridge with no frame either way for the idle timeout is closed on both sides; activity holds it", () =>
    Effect.gen(function*() {
      const quiet = yield* pairs([true, true])
      const busy = yield* pairs([true, true])
      const keepAlive = yield* makeKeepAlive(200, 30_000)
      yield* keepAlive(quiet.ends, { last: Date.now() })
      const activity = { last: Date.now() }
      yield* keepAlive(busy.ends, activity)
      const beat = setInterval(() => (activity.last = Date.now()), 20)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(beat)))
      const both = yield* Effect.promise(() => Promise.all(quiet.closed))
      expect(both).toEqual([{ code: 1000, reason: "idle timeout" }, { code: 1000, reason: "idle timeout" }])
      expect(busy.ends.map((socket) => socket.readyState)).toEqual([WebSocket.OPEN, WebSocket.OPEN])
    }))

  it.scopedLive("a bridge let go is no longer pinged or timed out", () =>
    Effect.gen(function*() {
      const { ends } = yield* pairs([false, false])
      const keepAlive = yield* makeKeepAlive(100, 30)
      yield* Effect.scoped(keepAlive(ends, { last: Date.now() }))
      yield* Effect.sleep("400 millis")
      expect(ends.map((socket) => socket.readyState)).toEqual([WebSocket.OPEN, WebSocket.OPEN])
    }))
})
