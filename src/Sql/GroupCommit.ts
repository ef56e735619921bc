import { Chunk, Deferred, Effect, Exit, Queue, Schedule } from "effect"
import { forkLoop } from "../Background.ts"

export interface GroupCommitOptions {
  // rows in one statement at most
  readonly maxBatch: number
  // rows queued at most; past it a caller waits for room
  readonly capacity: number
}

// Rows written one statement per batch: whatever callers queued while the previous batch was being written goes into
// the next, so under load a statement carries many rows and alone it carries one, with no wait added. Each caller
// waits for its own row. A batch that fails is written again a row at a time, so one bad row fails only its caller.
// Once queued, a row's fate is awaited even by a caller being interrupted: whoever closes what it opened can rely on
// the row being written (or not) by then. At the scope's end, rows already queued are written before the writer stops.
export const makeGroupCommit = <A>(
  name: string,
  write: (batch: ReadonlyArray<A>) => Effect.Effect<void>,
  options: GroupCommitOptions
) =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<readonly [A, Deferred.Deferred<void>]>(options.capacity)
    let pending = 0

    const round = Effect.gen(function*() {
      const batch = Chunk.toReadonlyArray(yield* Queue.takeBetween(queue, 1, options.maxBatch))
      const exit = yield* Effect.exit(write(batch.map(([row]) => row)))
      if (Exit.isSuccess(exit) || batch.length === 1) {
        for (const [, done] of batch) Deferred.unsafeDone(done, exit)
        return
      }
      for (const [row, done] of batch) Deferred.unsafeDone(done, yield* Effect.exit(write([row])))
    })
    yield* forkLoop(name, round)
    // Runs before the writer is interrupted (finalisers run in reverse order): what is queued is written first.
    yield* Effect.addFinalizer(() =>
      Effect.repeat(Effect.sync(() => pending), { while: (left) => left > 0, schedule: Schedule.spaced("5 millis") })
    )

    const submit = (row: A): Effect.Effect<void> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const done = yield* Deferred.make<void>()
          yield* restore(Queue.offer(queue, [row, done]))
          pending++
          yield* Deferred.await(done).pipe(Effect.ensuring(Effect.sync(() => pending--)))
        })
      )
    // rows queued or being written, whose callers wait
    const waiting = () => pending
    return { submit, waiting } as const
  })
