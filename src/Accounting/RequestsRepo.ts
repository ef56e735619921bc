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

// The end of a request, of one of its attempts, or of both (its last attempt and its outcome, written together).
export const End = Schema.Struct({ finished: Schema.NullOr(Finished), attempt: Schema.NullOr(AttemptEnd) })
export type End = typeof End.Type

// One row of jsonb_to_recordset per end: a whole batch of ends is one parameter.
const endRecord = ({ attempt, finished }: typeof End.Encoded) => ({
  id: finished?.id ?? attempt?.requestId,
  attempt: attempt?.attempt ?? null,
  attempt_ended_at: attempt?.endedAt ?? null,
  attempt_http_status: attempt?.httpStatus ?? null,
  attempt_error_code: attempt?.errorCode ?? null,
  outcome: attempt?.outcome ?? null,
  finish: finished !== null,
  account_id: finished?.accountId ?? null,
  status: finished?.status ?? null,
  http_status: finished?.httpStatus ?? null,
  error_code: finished?.errorCode ?? null,
  first_byte_at: finished?.firstByteAt ?? null,
  ended_at: finished?.endedAt ?? null,
  input_tokens: finished?.inputTokens ?? null,
  cached_input_tokens: finished?.cachedInputTokens ?? null,
  output_tokens: finished?.outputTokens ?? null,
  reasoning_tokens: finished?.reasoningTokens ?? null,
  total_tokens: finished?.totalTokens ?? null,
  upstream_request_id: finished?.upstreamRequestId ?? null
})

export class RequestsRepo extends Effect.Service<RequestsRepo>()("Gateway/RequestsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const start = SqlSchema.void({
      Request: Schema.Array(Started),
      execute: (rows) => sql`INSERT INTO requests ${sql.insert(rows)}`
    })

    const startAttempt = SqlSchema.void({
      Request: Schema.Array(Attempt),
      execute: (rows) => sql`INSERT INTO request_attempts ${sql.insert(rows)}`
    })

    // Attempts' ends first, then the requests' outcomes, whose attempt counts include every attempt row.
    const end = SqlSchema.void({
      Request: Schema.Array(End),
      execute: (ends) =>
        sql`WITH ends AS (
            SELECT * FROM jsonb_to_recordset(${JSON.stringify(ends.map(endRecord))}::jsonb) AS e(
              id text, attempt integer, attempt_ended_at timestamptz, attempt_http_status integer,
              attempt_error_code text, outcome text, finish boolean, account_id text, status text, http_status integer,
              error_code text, first_byte_at timestamptz, ended_at timestamptz, input_tokens bigint,
              cached_input_tokens bigint, output_tokens bigint, reasoning_tokens bigint, total_tokens bigint,
              upstream_request_id text)
          ), attempts AS (
            UPDATE request_attempts a SET ended_at = e.attempt_ended_at, http_status = e.attempt_http_status,
              error_code = e.attempt_error_code, outcome = e.outcome
            FROM ends e WHERE e.attempt IS NOT NULL AND a.request_id = e.id AND a.attempt = e.attempt
          )
          UPDATE requests r SET account_id = e.account_id, status = e.status, http_status = e.http_status,
            error_code = e.error_code, first_byte_at = e.first_byte_at, ended_at = e.ended_at,
            input_tokens = e.input_tokens, cached_input_tokens = e.cached_input_tokens,
            output_tokens = e.output_tokens, reasoning_tokens = e.reasoning_tokens, total_tokens = e.total_tokens,
            upstream_request_id = e.upstream_request_id,
            attempts = (SELECT count(*) FROM request_attempts WHERE request_id = e.id)
          FROM ends e WHERE e.finish AND r.id = e.id`
    })

    // Each takes one row or a batch of them (the group commits in Accounting write batches).
    return {
      start: (rows: ReadonlyArray<Started>) => start(rows).pipe(Effect.orDie),
      startAttempt: (rows: ReadonlyArray<Attempt>) => startAttempt(rows).pipe(Effect.orDie),
      end: (ends: ReadonlyArray<End>) => end(ends).pipe(Effect.orDie)
    } as const
  })
}) {}
