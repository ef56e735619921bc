import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"

const NullableInt = Schema.NullOr(Schema.Number)

export const Started = Schema.Struct({
  id: Schema.String,
  poolId: Schema.String,
  keyId: Schema.String,
  route: Schema.String,
  transport: Schema.Literal("http", "sse", "websocket"),
  model: Schema.NullOr(Schema.String),
  startedAt: Schema.DateFromSelf,
  // the gateway instance relaying it: if that instance is lost, another closes the row
  instanceId: Schema.String
})
export type Started = typeof Started.Type

export const Attempt = Schema.Struct({
  requestId: Schema.String,
  attempt: Schema.Number,
  accountId: Schema.String,
  startedAt: Schema.DateFromSelf
})
export type Attempt = typeof Attempt.Type

export const AttemptEnd = Schema.Struct({
  requestId: Schema.String,
  attempt: Schema.Number,
  endedAt: Schema.DateFromSelf,
  httpStatus: NullableInt,
  errorCode: Schema.NullOr(Schema.String),
  outcome: Schema.Literal("succeeded", "failed", "cancelled", "retried")
})
export type AttemptEnd = typeof AttemptEnd.Type

export const Finished = Schema.Struct({
  id: Schema.String,
  accountId: Schema.NullOr(Schema.String),
  status: Schema.Literal("succeeded", "failed", "cancelled"),
  httpStatus: NullableInt,
  errorCode: Schema.NullOr(Schema.String),
  firstByteAt: Schema.NullOr(Schema.DateFromSelf),
  endedAt: Schema.DateFromSelf,
  inputTokens: NullableInt,
  cachedInputTokens: NullableInt,
  outputTokens: NullableInt,
  reasoningTokens: NullableInt,
  totalTokens: NullableInt,
  upstreamRequestId: Schema.NullOr(Schema.String)
})
export type Finished = typeof Finished.Type

export class RequestsRepo extends Effect.Service<RequestsRepo>()("Gateway/RequestsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const start = SqlSchema.void({ Request: Started, execute: (row) => sql`INSERT INTO requests ${sql.insert(row)}` })

    const startAttempt = SqlSchema.void({
      Request: Attempt,
      execute: (row) => sql`INSERT INTO request_attempts ${sql.insert(row)}`
    })

    const endAttempt = SqlSchema.void({
      Request: AttemptEnd,
      execute: (row) =>
        sql`UPDATE request_attempts SET ended_at = ${row.endedAt}, http_status = ${row.httpStatus},
            error_code = ${row.errorCode}, outcome = ${row.outcome}
          WHERE request_id = ${row.requestId} AND attempt = ${row.attempt}`
    })

    const finish = SqlSchema.void({
      Request: Finished,
      execute: ({ id, ...row }) =>
        sql`UPDATE requests SET ${sql.update(row)},
            attempts = (SELECT count(*) FROM request_attempts WHERE request_id = ${id})
          WHERE id = ${id}`
    })

    // The last attempt's end and the request's outcome in one round trip.
    const complete = SqlSchema.void({
      Request: Schema.Struct({ finished: Finished, attempt: AttemptEnd }),
      execute: ({ attempt, finished: { id, ...row } }) =>
        sql`WITH attempt AS (
            UPDATE request_attempts SET ended_at = ${attempt.endedAt}, http_status = ${attempt.httpStatus},
              error_code = ${attempt.errorCode}, outcome = ${attempt.outcome}
            WHERE request_id = ${attempt.requestId} AND attempt = ${attempt.attempt}
          )
          UPDATE requests SET ${sql.update(row)},
            attempts = (SELECT count(*) FROM request_attempts WHERE request_id = ${id})
          WHERE id = ${id}`
    })

    return {
      start: (row: Started) => start(row).pipe(Effect.orDie),
      complete: (finished: Finished, attempt: AttemptEnd) => complete({ finished, attempt }).pipe(Effect.orDie),
      startAttempt: (row: Attempt) => startAttempt(row).pipe(Effect.orDie),
      endAttempt: (row: AttemptEnd) => endAttempt(row).pipe(Effect.orDie),
      finish: (row: Finished) => finish(row).pipe(Effect.orDie)
    } as const
  })
}) {}
