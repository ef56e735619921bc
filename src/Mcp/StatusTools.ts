import { Clock, Effect, Schema } from "effect"
import { Activity } from "../Activity.ts"
import { Counts, SessionCount } from "../Activity/ActivityRepo.ts"
import { defineTool } from "./Tool.ts"

export const statusTools = Effect.gen(function*() {
  const activity = yield* Activity
  const startedAt = yield* Clock.currentTimeMillis
  return [
    defineTool({
      name: "service_status",
      description: "Gateway status: uptime, database reachability, and counts of pools, accounts by status, " +
        "accounts cooling down, active keys, in-flight and recent requests, live sessions.",
      scope: "read",
      input: Schema.Struct({}),
      output: Schema.Struct({
        status: Schema.Literal("ok"),
        now: Schema.Date,
        uptimeSeconds: Schema.Number,
        database: Schema.Literal("ok"),
        counts: Counts
      }),
      run: () =>
        Effect.map(activity.status, (status) => ({
          ...status,
          uptimeSeconds: Math.round((status.now.getTime() - startedAt) / 1000)
        }))
    }),
    defineTool({
      name: "session_counts",
      description: "Live sticky sessions (hard: session/thread ids; soft: prompt cache keys) per account and Pool.",
      scope: "read",
      input: Schema.Struct({ pool: Schema.optional(Schema.String.annotations({ description: "a Pool slug or id" })) }),
      output: Schema.Struct({ sessions: Schema.Array(SessionCount), total: Schema.Number }),
      run: ({ pool }) =>
        Effect.map(activity.sessions(pool ?? null), (sessions) => ({
          sessions,
          total: sessions.reduce((sum, row) => sum + row.total, 0)
        }))
    })
  ]
})
