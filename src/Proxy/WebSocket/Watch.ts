import { type Duration, Effect, Schedule } from "effect"
import { forkLoop } from "../../Background.ts"

export interface Watched {
  // the socket's credentials: its Pool key's Authorization header and its account
  readonly authorization: string
  readonly accountId: string
  readonly close: () => void
}

// A check that fails means "no longer valid"; one that dies (the database gone) fails the whole round, which is
// logged and tried again on the next tick, closing nothing meanwhile.
const failing = <K, E>(keys: ReadonlyArray<K>, check: (key: K) => Effect.Effect<unknown, E>) =>
  Effect.forEach(
    [...new Set(keys)],
    (key) => Effect.match(check(key), { onFailure: () => [key], onSuccess: () => [] }),
    { concurrency: 4 }
  ).pipe(Effect.map((found) => new Set(found.flat())))

// One loop for all open sockets: every interval each distinct key and account is checked once, and the sockets of a
// key that no longer authenticates, or of an account that can no longer be used, are closed.
export const makeWatch = <E1, E2>(options: {
  readonly keyValid: (authorization: string) => Effect.Effect<unknown, E1>
  readonly accountUsable: (accountId: string) => Effect.Effect<unknown, E2>
  readonly interval?: Duration.DurationInput
}) =>
  Effect.gen(function*() {
    const sockets = new Set<Watched>()

    const sweep = Effect.gen(function*() {
      const open = [...sockets]
      const badKeys = yield* failing(open.map((socket) => socket.authorization), options.keyValid)
      const badAccounts = yield* failing(open.map((socket) => socket.accountId), options.accountUsable)
      for (const socket of open) {
        if (!badKeys.has(socket.authorization) && !badAccounts.has(socket.accountId)) continue
        sockets.delete(socket)
        socket.close()
      }
    })

    yield* forkLoop("websocket watch", sweep, Schedule.spaced(options.interval ?? "2 seconds"))

    const watch = (socket: Watched) =>
      Effect.acquireRelease(Effect.sync(() => sockets.add(socket)), () => Effect.sync(() => sockets.delete(socket)))

    return { watch } as const
  })
