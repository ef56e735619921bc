import { Clock, Effect } from "effect"
import { ActivityRepo, type UsageGroup } from "./Activity/ActivityRepo.ts"
import { InvalidInput } from "./Domain/Errors.ts"

export interface RequestQuery {
  readonly pool?: string | undefined
  readonly keyId?: string | undefined
  readonly accountId?: string | undefined
  readonly model?: string | undefined
  readonly status?: string | undefined
  readonly since?: Date | undefined
  readonly until?: Date | undefined
  readonly limit?: number | undefined
  readonly offset?: number | undefined
}

export interface UsageQuery {
  readonly by?: typeof UsageGroup.Type | undefined
  readonly since?: Date | undefined
  readonly until?: Date | undefined
}

const dayMs = 86_400_000

export const requestPageMax = 200

const inRange = (since: Date, until: Date) =>
  since.getTime() < until.getTime()
    ? Effect.void
    : Effect.fail(new InvalidInput({ message: "since must be before until" }))

// What operators ask about the gateway's traffic and fleet, whether through the MCP tools or the CLI.
export class Activity extends Effect.Service<Activity>()("Gateway/Activity", {
  effect: Effect.gen(function*() {
    const repo = yield* ActivityRepo

    // Newest first; one row more than asked for tells whether another page follows.
    const requests = Effect.fn("Activity.requests")(function*(query: RequestQuery) {
      if (query.since && query.until) yield* inRange(query.since, query.until)
      const limit = query.limit ?? 50
      const offset = query.offset ?? 0
      const rows = yield* repo.requests({
        pool: query.pool ?? null,
        keyId: query.keyId ?? null,
        accountId: query.accountId ?? null,
        model: query.model ?? null,
        status: query.status ?? null,
        since: query.since ?? null,
        until: query.until ?? null,
        limit: limit + 1,
        offset
      })
      return { requests: rows.slice(0, limit), nextOffset: rows.length > limit ? offset + limit : null }
    })

    // By Pool over the last 24 hours unless told otherwise.
    const usage = Effect.fn("Activity.usage")(function*(query: UsageQuery) {
      const now = yield* Clock.currentTimeMillis
      const until = query.until ?? new Date(now)
      const since = query.since ?? new Date(until.getTime() - dayMs)
      yield* inRange(since, until)
      const by = query.by ?? "pool"
      return { by, since, until, groups: yield* repo.usage({ by, since, until }) }
    })

    const status = Effect.gen(function*() {
      const counts = yield* repo.counts
      const now = yield* Clock.currentTimeMillis
      return { status: "ok", now: new Date(now), database: "ok", counts } as const
    }).pipe(Effect.withSpan("Activity.status"))

    // The dashboard's pictures: per Pool, by hour over the last day and by day over the last week; errors by code.
    const charts = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const hourAgo = (hours: number) => new Date(Math.floor(now / 3_600_000) * 3_600_000 - hours * 3_600_000)
      const dayAgo = (days: number) => new Date(Math.floor(now / dayMs) * dayMs - days * dayMs)
      return {
        now: new Date(now),
        hourly: { since: hourAgo(23), rows: yield* repo.series("hour", hourAgo(23)) },
        daily: { since: dayAgo(6), rows: yield* repo.series("day", dayAgo(6)) },
        errors: yield* repo.errors(new Date(now - dayMs))
      }
    })

    return { requests, usage, status, charts, sessions: repo.sessions } as const
  }),
  dependencies: [ActivityRepo.Default]
}) {}
