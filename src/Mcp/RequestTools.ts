import { Effect, Schema } from "effect"
import { Activity, requestPageMax } from "../Activity.ts"
import { RequestRow, UsageGroup, UsageRow } from "../Activity/ActivityRepo.ts"
import { defineTool, Timestamp } from "./Tool.ts"

const RequestView = Schema.Struct({ ...RequestRow.fields, startedAt: Schema.Date, endedAt: Timestamp })
const Instant = Schema.Date.annotations({ description: "an ISO 8601 time, e.g. 2025-01-31T12:00:00Z" })

export const requestTools = Effect.gen(function*() {
  const activity = yield* Activity
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
        limit: Schema.optional(Schema.Int.pipe(Schema.between(1, requestPageMax))).annotations({
          description: "1 to 200, default 50"
        }),
        offset: Schema.optional(Schema.Int.pipe(Schema.between(0, 1_000_000)))
      }),
      output: Schema.Struct({ requests: Schema.Array(RequestView), nextOffset: Schema.NullOr(Schema.Number) }),
      run: activity.requests
    }),
    defineTool({
      name: "usage_summary",
      description:
        "Requests and tokens grouped by pool, key, account or model over a time window (default: the last 24 hours).",
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
      run: activity.usage
    })
  ]
})
