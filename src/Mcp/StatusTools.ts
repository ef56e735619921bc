import { Clock, Effect, Schema } from "effect"
import { ActivityRepo, SessionCount } from "./ActivityRepo.ts"
import { Counts, FleetRepo } from "./FleetRepo.ts"
import { defineTool } from "./Tool.ts"

export const statusTools = Effect.gen(function*() {
  const fleet = yield* FleetRepo
  const activity = yield* ActivityRepo
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
        Effect.gen(function*() {
          const counts = yield* fleet.counts
          const now = yield* Clock.currentTimeMillis
          return {
            status: "ok",
            now: new Date(now),
            uptimeSeconds: Math.round((now - startedAt) / 1000),
            database: "ok",
            counts
          } as const
        })
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
