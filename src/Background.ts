import { Cause, Effect, type Schedule, type Scope } from "effect"

// A long-lived loop: one round per schedule tick, forked into the surrounding scope. A round that fails or dies is
// logged under the loop's name and the loop goes on; only the scope's end stops it (a
// round's stray interruption, a lost race inside it, is not an end).
export const forkLoop = <E, R, Out, RS>(
  name: string,
  round: Effect.Effect<unknown, E, R>,
  schedule: Schedule.Schedule<Out, unknown, RS>
): Effect.Effect<void, never, R | RS | Scope.Scope> =>
  round.pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(`${name}: round failed`, cause)
    ),
    Effect.repeat(schedule),
    Effect.forkScoped,
    Effect.asVoid
  )
