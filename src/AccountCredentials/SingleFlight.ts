import { Deferred, Effect, HashMap, Option, Ref } from "effect"

type Flights<A, E> = HashMap.HashMap<string, Deferred.Deferred<A, E>>

interface Joined<A, E> {
  readonly flight: Deferred.Deferred<A, E>
  readonly leader: boolean
}

// Callers asking for the same key while a run is under way share that run's result. The run is forked into the
// owner's scope, so a caller that goes away (client disconnected) does not cancel work the others are waiting for.
export const makeSingleFlight = <A, E>() =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const flights = yield* Ref.make<Flights<A, E>>(HashMap.empty())

    const join = (key: string, candidate: Deferred.Deferred<A, E>) =>
      Ref.modify(flights, (map): readonly [Joined<A, E>, Flights<A, E>] =>
        Option.match(HashMap.get(map, key), {
          onSome: (flight) => [{ flight, leader: false }, map] as const,
          onNone: () => [{ flight: candidate, leader: true }, HashMap.set(map, key, candidate)] as const
        }))

    return (key: string, run: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.gen(function*() {
        const { flight, leader } = yield* join(key, yield* Deferred.make<A, E>())
        if (leader) {
          // Forked uninterruptibly so the completion is in place even if the scope closes before the run starts.
          yield* Effect.interruptible(run).pipe(
            Effect.onExit((exit) =>
              Ref.update(flights, HashMap.remove(key)).pipe(Effect.zipRight(Deferred.done(flight, exit)))
            ),
            Effect.forkIn(scope),
            Effect.uninterruptible
          )
        }
        return yield* Deferred.await(flight)
      })
  })
