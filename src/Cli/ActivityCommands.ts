import { Command, Options } from "@effect/cli"
import { Clock, Effect, Option } from "effect"
import { Activity, requestPageMax } from "../Activity.ts"
import { type RequestRow, UsageGroup, type UsageRow } from "../Activity/ActivityRepo.ts"
import { parseLifetime } from "../Domain/Duration.ts"
import { InvalidInput } from "../Domain/Errors.ts"
import { Pools } from "../Pools.ts"
import { emit, json, table } from "./Output.ts"

const usageColumns = ["REQUESTS", "SUCCEEDED", "FAILED", "INPUT", "CACHED INPUT", "OUTPUT", "TOTAL"]
const usageRow = (row: typeof UsageRow.Type) => [
  row.group,
  row.requests,
  row.succeeded,
  row.failed,
  row.inputTokens,
  row.cachedInputTokens,
  row.outputTokens,
  row.totalTokens
]

export const usageCommand = Command.make("usage", {
  by: Options.choice("by", UsageGroup.literals).pipe(Options.withDefault("pool" as const)),
  since: Options.text("since").pipe(Options.withDescription("how far back: 90m, 24h, 7d…"), Options.withDefault("24h")),
  json
}, (input) =>
  Effect.gen(function*() {
    const window = yield* parseLifetime(input.since)
    const now = yield* Clock.currentTimeMillis
    const usage = yield* (yield* Activity).usage({ by: input.by, since: new Date(now - window), until: new Date(now) })
    const rows = usage.groups.length === 0
      ? "no requests in this window"
      : table([usage.by.toUpperCase(), ...usageColumns], usage.groups.map(usageRow))
    yield* emit(input.json, usage, () => `usage by ${usage.by} since ${usage.since.toISOString()}\n${rows}`)
  })).pipe(Command.withDescription("requests and tokens per pool, key, account or model"))

const requestColumns = [
  "STARTED",
  "ID",
  "POOL",
  "MODEL",
  "STATUS",
  "HTTP",
  "ERROR",
  "ATTEMPTS",
  "TOKENS",
  "ACCOUNT",
  "KEY"
]
const requestRow = (row: typeof RequestRow.Type) => [
  row.startedAt,
  row.id,
  row.poolSlug,
  row.model,
  row.status,
  row.httpStatus,
  row.errorCode,
  row.attempts,
  row.totalTokens,
  row.accountId,
  row.keyId
]

export const requestsCommand = Command.make("requests", {
  pool: Options.text("pool").pipe(Options.withDescription("slug of the pool to show"), Options.optional),
  limit: Options.integer("limit").pipe(Options.withDescription(`1 to ${requestPageMax}`), Options.withDefault(50)),
  json
}, (input) =>
  Effect.gen(function*() {
    if (input.limit < 1 || input.limit > requestPageMax) {
      return yield* new InvalidInput({ message: `--limit must be from 1 to ${requestPageMax}` })
    }
    const pools = yield* Pools
    const pool = Option.isSome(input.pool) ? (yield* pools.findBySlug(input.pool.value)).slug : undefined
    const page = yield* (yield* Activity).requests({ pool, limit: input.limit })
    yield* emit(input.json, page, () =>
      page.requests.length === 0 ? "no requests yet" : table(requestColumns, page.requests.map(requestRow)))
  })).pipe(Command.withDescription("the newest requests, newest first: metadata only, never prompts or answers"))

export const statusCommand = Command.make("status", { json }, (input) =>
  Effect.gen(function*() {
    const status = yield* (yield* Activity).status
    const counts = status.counts
    const accounts = [
      `${counts.accountsActive} active`,
      `${counts.accountsPaused} paused`,
      `${counts.accountsReauthRequired} need re-auth`,
      `${counts.accountsCoolingDown} cooling down`
    ]
    yield* emit(input.json, status, () =>
      table(["status", status.status], [
        ["database", status.database],
        ["pools", counts.pools],
        ["accounts", accounts.join(", ")],
        ["keys", `${counts.keysActive} active`],
        ["requests", `${counts.requestsInProgress} in progress, ${counts.requestsLastHour} in the last hour`],
        ["sessions", `${counts.activeSessions} live`]
      ]))
  })).pipe(Command.withDescription("database reachability and counts of pools, accounts, keys, requests and sessions"))
