import { Deferred, Effect, Exit, FiberSet, Schedule } from "effect"
import { WriteQueueRows } from "../Config.ts"

export interface GroupCommitOptions {
  // rows in one statement at most
  readonly maxBatch: number
  // rows queued at most; past it a caller waits for room
  readonly capacity: number
}

const maxBatch = 256

type Queued<A, B> = readonly [A, Deferred.Deferred<B>]

const nth = <B>(exit: Exit.Exit<ReadonlyArray<B>>, index: number): Exit.Exit<B> =>
  Exit.map(exit, (results) => results[index] as B)

// Rows written (or keys looked up) one statement per batch; `run` answers each row of its batch, in order. A caller that finds no statement running writes its row itself, at once, in
// its own fiber (no hop to a writer: a lone request pays nothing); callers arriving while a statement runs queue, and
// whatever queued is written in the next statement when it ends. Each caller waits for its own row. A batch that
// fails is written again a row at a time, so one bad row fails only its caller. Once a caller is in, its row's fate
// is awaited even while it is being interrupted: whoever closes what it opened can rely on the row being written (or
// not) by then. At the scope's end, rows already queued are written first.
export const makeBatcher = <A, B>(
  name: string,
  run: (batch: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>>,
  given?: GroupCommitOptions
) =>
  Effect.gen(function*() {
    // By default: the write queue setting, and 256 rows in a statement.
    const options = given ?? { maxBatch, capacity: yield* WriteQueueRows }
    const queued: Array<Queued<A, B>> = []
    const room = yield* Effect.makeSemaphore(options.capacity)
    let writing = false
    let pending = 0
    const drainers = yield* FiberSet.make()
    // Runs before the drainers are interrupted (finalisers run in reverse order): what is queued is written first.
    yield* Effect.addFinalizer(() =>
      Effect.repeat(Effect.sync(() => pending), { while: (left) => left > 0, schedule: Schedule.spaced("5 millis") })
    )

    const writeBatch = (batch: ReadonlyArray<Queued<A, B>>) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(run(batch.map(([row]) => row)))
        if (Exit.isSuccess(exit) || batch.length === 1) {
          batch.forEach(([, done], index) => Deferred.unsafeDone(done, nth(exit, index)))
        } else {
          for (const [row, done] of batch) Deferred.unsafeDone(done, nth(yield* Effect.exit(run([row])), 0))
        }
        yield* room.release(batch.length)
      })

    // Takes what queued while the last statement ran, until nothing is left; then the next caller writes itself.
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      const batch = queued.splice(0, options.maxBatch)
      if (batch.length === 0) {
        writing = false
        return Effect.void
      }
      return Effect.zipRight(writeBatch(batch), drain)
    })

    const handOff = Effect.suspend(() => {
      if (queued.length === 0) {
        writing = false
        return Effect.void
      }
      return FiberSet.run(
        drainers,
        drain.pipe(Effect.catchAllCause((cause) => Effect.logError(`${name}: writer failed`, cause)))
      )
    })

    const lead = (row: A) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(run([row]))
        yield* handOff
        return yield* nth(exit, 0)
      })

    const submit = (row: A): Effect.Effect<B> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          pending++
          if (!writing) {
            writing = true
            return yield* lead(row)
          }
          yield* restore(room.take(1))
          // The statement that was running may have ended meanwhile, with nothing left to write: lead instead.
          if (!writing) {
            yield* room.release(1)
            writing = true
            return yield* lead(row)
          }
          const done = yield* Deferred.make<B>()
          queued.push([row, done])
          return yield* Deferred.await(done)
        }).pipe(Effect.ensuring(Effect.sync(() => pending--)))
      )
    // callers whose rows are queued or being written
    const waiting = () => pending
    return { submit, waiting } as const
  })

// Rows written one statement per batch (makeBatcher, with nothing to answer).
export const makeGroupCommit = <A>(
  name: string,
  write: (batch: ReadonlyArray<A>) => Effect.Effect<void>,
  given?: GroupCommitOptions
) => makeBatcher(name, (batch: ReadonlyArray<A>) => Effect.as(write(batch), batch.map(() => undefined)), given)
