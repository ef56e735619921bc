import { HttpLayerRouter } from "@effect/platform"
import { Chunk, Deferred, Effect, Layer, Queue } from "effect"
import { path } from "./forward.ts"
import { readableProxy } from "./readable.ts"
import { makeRows, type Row, rowOf, SqlLive } from "./rows.ts"
import { serve } from "./serve.ts"

// effect-readable plus the same rows group-committed: one writer takes everything queued and writes it as one
// multi-row INSERT; each request waits for its row's batch to commit before it goes upstream.
const groupCommit = (insert: (rows: ReadonlyArray<Row>) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<readonly [Row, Deferred.Deferred<void>]>()
    const writeBatch = Effect.gen(function*() {
      const batch = yield* Queue.takeBetween(queue, 1, 1_000)
      const exit = yield* Effect.exit(insert(Chunk.toReadonlyArray(Chunk.map(batch, ([row]) => row))))
      yield* Effect.forEach(batch, ([, committed]) => Deferred.done(committed, exit), { discard: true })
    })
    yield* Effect.forkScoped(Effect.forever(writeBatch))
    return (row: Row) =>
      Effect.gen(function*() {
        const committed = yield* Deferred.make<void>()
        yield* Queue.offer(queue, [row, committed])
        yield* Deferred.await(committed)
      })
  })

const routes = HttpLayerRouter.use((router) =>
  Effect.gen(function*() {
    const commit = yield* groupCommit((yield* makeRows).insert)
    yield* router.add("POST", path, readableProxy((request, body) => commit(rowOf(request, body))))
  })
).pipe(Layer.provide(SqlLive))

serve("effect-readable+batched-sql", routes)
