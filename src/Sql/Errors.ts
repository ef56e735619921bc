import { SqlError } from "@effect/sql"

// A unique constraint refused the write (SQLSTATE 23505), on PostgreSQL and PGlite alike.
export const isUniqueViolation = (error: unknown) =>
  error instanceof SqlError.SqlError && typeof error.cause === "object" && error.cause !== null &&
  "code" in error.cause && error.cause.code === "23505"
