import { SqlClient } from "@effect/sql"
import { Duration, Effect, Layer, Schedule } from "effect"
import { forkLoop } from "./Background.ts"
import { newId } from "./Domain/Ids.ts"

// An instance beats this often; one silent for `lostAfter` is gone, and its unfinished rows are closed.
const beatEvery = Duration.seconds(10)
const lostAfterSeconds = 60
const sweepEvery = Duration.seconds(30)

// This gateway instance among the others on the same database.
export class Instances extends Effect.Service<Instances>()("Gateway/Instances", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const id = newId("inst")

    const beat = sql`INSERT INTO instances (id) VALUES (${id})
      ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`.pipe(Effect.asVoid)

    const leave = sql`DELETE FROM instances WHERE id = ${id}`.pipe(Effect.asVoid)

    // Requests (and their attempts) still in progress on an instance that is no longer beating — or from before
    // instances were recorded — failed with it. Answers how many were closed.
    const sweep = Effect.gen(function*() {
      const closed = yield* sql<{ readonly id: string }>`
        WITH live AS (
          SELECT id FROM instances WHERE heartbeat_at > now() - make_interval(secs => ${lostAfterSeconds})
        ), lost AS (
          UPDATE requests SET status = 'failed', error_code = 'instance_lost', ended_at = now()
          WHERE status = 'in_progress' AND (instance_id IS NULL OR instance_id NOT IN (SELECT id FROM live))
          RETURNING id
        ), attempts AS (
          UPDATE request_attempts SET outcome = 'failed', error_code = 'instance_lost', ended_at = now()
          WHERE outcome = 'in_progress' AND request_id IN (SELECT id FROM lost)
        )
        SELECT id FROM lost`
      yield* sql`DELETE FROM instances WHERE heartbeat_at < now() - interval '1 day'`
      return closed.length
    })

    return { id, beat, leave, sweep } as const
  })
}) {}

// The first beat is retried through a blip: a start whose database stays away fails, as its migrations just would have.
const firstBeatRetry = Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(5)))

// Served instances beat, sweep up after lost ones (at start, then periodically) and leave when they stop.
export const layer = Layer.scopedDiscard(Effect.gen(function*() {
  const instances = yield* Instances
  yield* Effect.acquireRelease(
    instances.beat.pipe(Effect.retry(firstBeatRetry), Effect.orDie),
    () => Effect.ignore(instances.leave)
  )
  const report = (closed: number) =>
    closed === 0
      ? Effect.void
      : Effect.logWarning("closed requests left in progress by a stopped instance").pipe(
        Effect.annotateLogs({ closed })
      )
  yield* forkLoop("instance heartbeat", instances.beat, Schedule.spaced(beatEvery))
  yield* forkLoop("sweep of lost instances", Effect.flatMap(instances.sweep, report), Schedule.spaced(sweepEvery))
}))
