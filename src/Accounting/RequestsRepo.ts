import { SqlClient } from "@effect/sql"
import type { Statement } from "@effect/sql"
import { Effect, Schema } from "effect"
import type { Binding } from "../SessionStore/SessionsRepo.ts"

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

// What one journal statement writes: request rows, attempt rows, ends, and session bindings, any of them empty.
export interface Journal {
  readonly starts: ReadonlyArray<Started>
  readonly attempts: ReadonlyArray<Attempt>
  readonly ends: ReadonlyArray<End>
  readonly bindings: ReadonlyArray<Binding>
}

const json = (rows: ReadonlyArray<unknown>) => JSON.stringify(rows)

export class RequestsRepo extends Effect.Service<RequestsRepo>()("Gateway/RequestsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const encodeEnds = Schema.encodeSync(Schema.Array(End))

    // One statement for all of it, each kind a data-modifying part of one WITH (PostgreSQL runs every one). Parts see
    // the table as it was before the statement, so an end never shares a statement with its own start: Accounting
    // writes a row's start before anything can end it. A batch binds a key once (SessionStore keeps the last).
    const write = (journal: Journal) => {
      const parts: Array<Statement.Fragment> = []
      if (journal.starts.length > 0) {
        parts.push(sql`starts AS (
          INSERT INTO requests (id, pool_id, key_id, route, transport, model, started_at, instance_id)
          SELECT * FROM jsonb_to_recordset(${
          json(journal.starts.map((row) => ({
            id: row.id,
            pool_id: row.poolId,
            key_id: row.keyId,
            route: row.route,
            transport: row.transport,
            model: row.model,
            started_at: row.startedAt,
            instance_id: row.instanceId
          })))
        }::jsonb) AS s(
            id text, pool_id text, key_id text, route text, transport text, model text, started_at timestamptz,
            instance_id text))`)
      }
      if (journal.attempts.length > 0) {
        parts.push(sql`attempts AS (
          INSERT INTO request_attempts (request_id, attempt, account_id, started_at)
          SELECT * FROM jsonb_to_recordset(${
          json(journal.attempts.map((row) => ({
            request_id: row.requestId,
            attempt: row.attempt,
            account_id: row.accountId,
            started_at: row.startedAt
          })))
        }::jsonb) AS a(
            request_id text, attempt integer, account_id text, started_at timestamptz))`)
      }
      if (journal.bindings.length > 0) {
        parts.push(sql`bindings AS (
          INSERT INTO sessions (pool_id, kind, key_hash, account_id, expires_at)
          SELECT b.pool_id, b.kind, b.key_hash, b.account_id, now() + make_interval(secs => b.ttl_seconds)
          FROM jsonb_to_recordset(${
          json(journal.bindings.map((b) => ({
            pool_id: b.poolId,
            kind: b.kind,
            key_hash: b.keyHash,
            account_id: b.accountId,
            ttl_seconds: b.ttlSeconds
          })))
        }::jsonb) AS b(pool_id text, kind text, key_hash text, account_id text, ttl_seconds double precision)
          ON CONFLICT (pool_id, kind, key_hash) DO UPDATE SET
            account_id = excluded.account_id, expires_at = excluded.expires_at, last_seen_at = now())`)
      }
      if (journal.ends.length > 0) {
        // Attempts' ends, and the requests' outcomes, whose attempt counts include every attempt row.
        parts.push(sql`ends AS (
            SELECT * FROM jsonb_to_recordset(${json(encodeEnds(journal.ends).map(endRecord))}::jsonb) AS e(
              id text, attempt integer, attempt_ended_at timestamptz, attempt_http_status integer,
              attempt_error_code text, outcome text, finish boolean, account_id text, status text, http_status integer,
              error_code text, first_byte_at timestamptz, ended_at timestamptz, input_tokens bigint,
              cached_input_tokens bigint, output_tokens bigint, reasoning_tokens bigint, total_tokens bigint,
              upstream_request_id text)
          ), attempt_ends AS (
            UPDATE request_attempts a SET ended_at = e.attempt_ended_at, http_status = e.attempt_http_status,
              error_code = e.attempt_error_code, outcome = e.outcome
            FROM ends e WHERE e.attempt IS NOT NULL AND a.request_id = e.id AND a.attempt = e.attempt
          ), request_ends AS (
            UPDATE requests r SET account_id = e.account_id, status = e.status, http_status = e.http_status,
              error_code = e.error_code, first_byte_at = e.first_byte_at, ended_at = e.ended_at,
              input_tokens = e.input_tokens, cached_input_tokens = e.cached_input_tokens,
              output_tokens = e.output_tokens, reasoning_tokens = e.reasoning_tokens, total_tokens = e.total_tokens,
              upstream_request_id = e.upstream_request_id,
              attempts = (SELECT count(*) FROM request_attempts WHERE request_id = e.id)
            FROM ends e WHERE e.finish AND r.id = e.id)`)
      }
      if (parts.length === 0) return Effect.void
      return sql`WITH ${sql.join(", ", false)(parts)} SELECT 1`.pipe(Effect.asVoid, Effect.orDie)
    }

    return { write } as const
  })
}) {}
