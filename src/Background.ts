import { Cause, Effect, type Schedule, type Scope } from "effect"

// A long-lived loop: one round per schedule tick, forked into the surrounding scope. A round that fails or dies is
// logged under the loop's name and the loop goes on; only the scope's end stops it (a
// round's stray interruption, a lost race inside it, is not an end). With no schedule, the next round starts as soon
// as one ends: for a round that waits on a queue. (A zero-delay schedule would still sleep, through a timer of at
// least a millisecond, between rounds.)
export const forkLoop = <E, R, Out = unknown, RS = never>(
  name: string,
  round: Effect.Effect<unknown, E, R>,
  schedule?: Schedule.Schedule<Out, unknown, RS>
): Effect.Effect<void, never, R | RS | Scope.Scope> => {
  const surviving = round.pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(`${name}: round failed`, cause)
    )
  )
  return (schedule === undefined ? Effect.forever(surviving) : Effect.repeat(surviving, schedule)).pipe(
    Effect.forkScoped,
    Effect.asVoid
  )
}
