import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope } from "effect"
import { makeBatcher, makeGroupCommit } from "../src/Sql/GroupCommit.ts"

// A writer whose statements are recorded and, while `gate` is closed, held: rows queued meanwhile wait for the next.
const recorder = Effect.gen(function*() {
  const batches: Array<ReadonlyArray<string>> = []
  const gate = yield* Effect.makeLatch(true)
  const write = (rows: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      batches.push(rows)
      yield* gate.await
      if (rows.includes("bad")) return yield* Effect.die(new Error("constraint violated"))
    })
  return { batches, gate, write }
})

const until = (check: () => boolean) =>
  Effect.promise(async () => {
    while (!check()) await new Promise((resolve) => setTimeout(resolve, 1))
  })

describe("group commit", () => {
  it.scopedLive("rows queued while a statement runs go in the next one; alone, a row is written at once", () =>
    Effect.gen(function*() {
      const { batches, gate, write } = yield* recorder
      const { submit, waiting } = yield* makeGroupCommit("test rows", write, { maxBatch: 3, capacity: 16 })
      yield* submit("alone")
      expect(batches).toEqual([["alone"]])

      yield* gate.close
      const first = yield* Effect.fork(submit("a"))
      yield* until(() => batches.length === 2)
      const rest = yield* Effect.fork(Effect.all(["b", "c", "d", "e"].map(submit), { concurrency: "unbounded" }))
      yield* until(() => waiting() === 5)
      yield* gate.open
      yield* Fiber.join(first)
      yield* Fiber.join(rest)
      expect(batches).toEqual([["alone"], ["a"], ["b", "c", "d"], ["e"]])
    }))

  it.scopedLive("lookups waiting together are answered by one call, each caller its own answer", () =>
    Effect.gen(function*() {
      const { batches, gate, write } = yield* recorder
      const { submit, waiting } = yield* makeBatcher(
        "test lookups",
        (keys: ReadonlyArray<string>) => Effect.as(write(keys), keys.map((key) => key.toUpperCase())),
        { maxBatch: 8, capacity: 16 }
      )
      yield* gate.close
      const first = yield* Effect.fork(submit("first"))
      yield* until(() => batches.length === 1)
      const others = yield* Effect.fork(Effect.all(["x", "y", "z"].map(submit), { concurrency: "unbounded" }))
      yield* until(() => waiting() === 4)
      yield* gate.open
      expect(yield* Fiber.join(first)).toEqual("FIRST")
      expect(yield* Fiber.join(others)).toEqual(["X", "Y", "Z"])
      expect(batches).toEqual([["first"], ["x", "y", "z"]])
    }))

  it.scopedLive("a batch that fails is written again row by row: only the bad row's caller fails", () =>
    Effect.gen(function*() {
      const { batches, gate, write } = yield* recorder
      const { submit, waiting } = yield* makeGroupCommit("test rows", write, { maxBatch: 8, capacity: 16 })
      yield* gate.close
      const first = yield* Effect.fork(submit("first"))
      yield* until(() => batches.length === 1)
      const others = yield* Effect.forEach(["x", "bad", "y"], (row) => Effect.fork(Effect.exit(submit(row))))
      yield* until(() => waiting() === 4)
      yield* gate.open
      yield* Fiber.join(first)
      const exits = yield* Effect.forEach(others, Fiber.join)
      expect(exits.map(Exit.isSuccess)).toEqual([true, false, true])
      expect(batches).toEqual([["first"], ["x", "bad", "y"], ["x"], ["bad"], ["y"]])
    }))

  it.live("a caller interrupted while its row waits still has it written, and its interruption waits for that", () =>
    Effect.gen(function*() {
      const { batches, gate, write } = yield* recorder
      const scope = yield* Scope.make()
      const { submit, waiting } = yield* makeGroupCommit("test rows", write, { maxBatch: 8, capacity: 16 }).pipe(
        Scope.extend(scope)
      )
      yield* gate.close
      const blocker = yield* Effect.fork(submit("blocker"))
      yield* until(() => batches.length === 1)
      const queued = yield* Effect.fork(submit("queued"))
      yield* until(() => waiting() === 2)
      const interrupted = yield* Deferred.make<void>()
      yield* Effect.fork(Effect.zipRight(Fiber.interrupt(queued), Deferred.succeed(interrupted, undefined)))
      yield* Effect.sleep("20 millis")
      expect(yield* Deferred.isDone(interrupted)).toBe(false)
      yield* gate.open
      yield* Deferred.await(interrupted)
      yield* Fiber.join(blocker)
      expect(batches).toEqual([["blocker"], ["queued"]])

      // At the scope's end a row still queued is written before the writer stops.
      yield* gate.close
      const last = yield* Effect.fork(submit("held"))
      yield* until(() => batches.length === 3)
      const tail = yield* Effect.fork(submit("at close"))
      yield* until(() => waiting() === 2)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* gate.open
      yield* Fiber.join(closing)
      yield* Fiber.join(last)
      yield* Fiber.join(tail)
      expect(batches.slice(2)).toEqual([["held"], ["at close"]])
    }))
})
