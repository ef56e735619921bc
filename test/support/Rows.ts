import { SqlClient } from "@effect/sql"
import { Effect, Schedule } from "effect"

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

// The final write of a request happens as its stream ends, just after the client saw the last byte.
export const settledRow = (requestId: string) =>
  requestRow(requestId).pipe(
    Effect.filterOrFail((row) => row !== undefined && row["status"] !== "in_progress"),
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds"))),
    Effect.orDie
  )
