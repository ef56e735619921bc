import { SqlClient } from "@effect/sql"
import { Effect, Schedule } from "effect"

// Waits until `read` gives what `until` wants: for what the gateway writes beside a response or in the background.
// The bound only tells a hang from a slow machine; it measures nothing.
export const eventually = <A, E, R>(read: Effect.Effect<A, E, R>, until: (value: A) => boolean) =>
  read.pipe(
    Effect.filterOrFail(until),
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("30 seconds"))),
    Effect.orDie
  )

export const requestRow = (requestId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT * FROM requests WHERE id = ${requestId}`).pipe(
    Effect.map((rows) => rows[0])
  )

export const attemptRows = (requestId: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql`SELECT attempt, account_id, http_status, error_code, outcome FROM request_attempts
      WHERE request_id = ${requestId} ORDER BY attempt`
  )

// An account's health row (rest, circuit, usage poll), or undefined before it has one.
export const healthRow = (accountId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT * FROM account_health WHERE account_id = ${accountId}`).pipe(
    Effect.map((rows) => rows[0])
  )

// As if `seconds` had passed for an account's health: every time on its row moves that far into the past. Rests and
// circuits end by the database's now(), which a TestClock does not move, and a real wait is a bet on the machine.
export const elapse = (accountId: string, seconds: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`UPDATE account_health SET
      cooldown_until = cooldown_until - make_interval(secs => ${seconds}),
      circuit_opened_at = circuit_opened_at - make_interval(secs => ${seconds}),
      last_success_at = last_success_at - make_interval(secs => ${seconds}),
      last_failure_at = last_failure_at - make_interval(secs => ${seconds}),
      usage_polled_at = usage_polled_at - make_interval(secs => ${seconds}),
      updated_at = updated_at - make_interval(secs => ${seconds})
    WHERE account_id = ${accountId}`).pipe(Effect.orDie, Effect.asVoid)

// The final write of a request happens as its stream ends, just after the client saw the last byte.
export const settledRow = (requestId: string) =>
  eventually(requestRow(requestId), (row) => row !== undefined && row["status"] !== "in_progress")
