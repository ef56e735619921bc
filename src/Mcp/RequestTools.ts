import { Clock, Effect, Schema } from "effect"
import { InvalidInput } from "../Domain/Errors.ts"
import { ActivityRepo, RequestRow, UsageGroup, UsageRow } from "./ActivityRepo.ts"
import { defineTool, Timestamp } from "./Tool.ts"

const RequestView = Schema.Struct({ ...RequestRow.fields, startedAt: Schema.Date, endedAt: Timestamp })
const Instant = Schema.Date.annotations({ description: "an ISO 8601 time, e.g. 2025-01-31T12:00:00Z" })
const dayMs = 86_400_000

const inRange = (since: Date, until: Date) =>
  since.getTime() < until.getTime()
    ? Effect.void
    : Effect.fail(new InvalidInput({ message: "since must be before until" }))

export const requestTools = Effect.gen(function*() {
  const activity = yield* ActivityRepo
  return [
    defineTool({
      name: "list_requests",
      description: "The request log, newest first, filtered by Pool, key, account, model, status and time range; " +
        "paginated with limit and offset (nextOffset is null on the last page).",
      scope: "read",
      input: Schema.Struct({
        pool: Schema.optional(Schema.String.annotations({ description: "a Pool slug or id" })),
        keyId: Schema.optional(Schema.String),
        accountId: Schema.optional(Schema.String),
        model: Schema.optional(Schema.String),
        status: Schema.optional(Schema.Literal("in_progress", "succeeded", "failed", "cancelled")),
        since: Schema.optional(Instant),
        until: Schema.optional(Instant),
        limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 200))).annotations({ description: "1 to 200, default 50" }),
        offset: Schema.optional(Schema.Int.pipe(Schema.between(0, 1_000_000)))
      }),
      output: Schema.Struct({ requests: Schema.Array(RequestView), nextOffset: Schema.NullOr(Schema.Number) }),
      run: (input) =>
        Effect.gen(function*() {
          if (input.since && input.until) yield* inRange(input.since, input.until)
          const limit = input.limit ?? 50
          const offset = input.offset ?? 0
          const rows = yield* activity.requests({
            pool: input.pool ?? null,
            keyId: input.keyId ?? null,
            accountId: input.accountId ?? null,
            model: input.model ?? null,
            status: input.status ?? null,
            since: input.since ?? null,
            until: input.until ?? null,
            limit: limit + 1,
            offset
          })
          return { requests: rows.slice(0, limit), nextOffset: rows.length > limit ? offset + limit : null }
        })
    }),
    defineTool({
      name: "usage_summary",
      description: "Requests and tokens grouped by pool, key, account or model over a time window (default: the last 24 hours).",
      scope: "read",
      input: Schema.Struct({
        by: Schema.optional(UsageGroup).annotations({ description: "pool (default), key, account or model" }),
        since: Schema.optional(Instant),
        until: Schema.optional(Instant)
      }),
      output: Schema.Struct({
        by: UsageGroup,
        since: Schema.Date,
        until: Schema.Date,
        groups: Schema.Array(UsageRow)
      }),
      run: (input) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const until = input.until ?? new Date(now)
          const since = input.since ?? new Date(until.getTime() - dayMs)
          yield* inRange(since, until)
          const by = input.by ?? "pool"
          return { by, since, until, groups: yield* activity.usage({ by, since, until }) }
        })
    })
  ]
})
