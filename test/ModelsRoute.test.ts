import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { Accounts } from "../src/Accounts.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, postResponses, setupPool, type TestPool } from "./support/Gateway.ts"
import { inFlight } from "./support/InFlight.ts"
import { send } from "./support/Requests.ts"
import { settledRow } from "./support/Rows.ts"

const models = (key: string, query: string) =>
  Effect.flatMap(
    gatewayUrl,
    (url) => send(`${url}/backend-api/codex/models${query}`, { headers: { authorization: `Bearer ${key}` } })
  )

// The catalog requests upstream saw for this Pool's accounts.
const upstreamCalls = (pool: TestPool) =>
  Effect.map(Fake, (fake) => {
    const ids = new Set(pool.accounts.map((account) => account.fake.accountId))
    return fake.requests.filter((request) => request.path.endsWith("/models") && ids.has(request.accountId ?? ""))
  })

const keyWith = (slug: string, limits: NonNullable<Parameters<PoolKeys["create"]>[0]["limits"]>) =>
  Effect.map(Effect.flatMap(PoolKeys, (keys) => keys.create({ poolSlug: slug, limits })), (created) => created.token)

// The key's request rows once none is in progress (or, after the bound, as they are).
const rowsOf = (token: string) =>
  Effect.gen(function*() {
    const keyId = (yield* (yield* PoolKeys).verify(token)).id
    const sql = yield* SqlClient.SqlClient
    const read = sql`SELECT route, status, error_code FROM requests WHERE key_id = ${keyId} ORDER BY started_at`
    return yield* read.pipe(
      Effect.filterOrFail((rows) => rows.every((row) => row["status"] !== "in_progress")),
      Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("5 seconds"))),
      Effect.orElse(() => read),
      Effect.orDie
    )
  })

describe.each(backends)("GET /models on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("only a valid client_version reaches upstream; other parameters never do, a bad one is a 400", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const served = yield* models(pool.key, "?client_version=0.169.0&foo=bar&client_version_x=1&limit=99999")
        expect(served.status).toBe(200)
        expect((yield* upstreamCalls(pool)).map((request) => request.query)).toEqual([{ client_version: "0.169.0" }])

        const refused = [
          "",
          "?foo=bar",
          "?client_version=",
          "?client_version=../../accounts",
          "?client_version=0.169.0%26x%3D1",
          "?client_version=0.169.0&client_version=0.170.0",
          `?client_version=${"1.".repeat(40)}1`,
          "?client_version=0.169.0%00"
        ]
        for (const query of refused) {
          const answer = yield* models(pool.key, query)
          expect([query, answer.status, JSON.parse(answer.text).error]).toEqual([query, 400, {
            type: "invalid_request_error",
            code: "invalid_query",
            message: expect.any(String)
          }])
        }
        expect(yield* upstreamCalls(pool)).toHaveLength(1)
        expect((yield* models(pool.key, "?client_version=0.170.0-alpha.2")).status).toBe(200)
      }))

    it.effect("the cache is bounded: after 300 versions the first is fetched again, the last is still cached", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const versions = Array.from({ length: 300 }, (_, index) => `0.${index}.0`)
        const answers = yield* Effect.forEach(versions, (version) => models(pool.key, `?client_version=${version}`), {
          concurrency: 4
        })
        expect(answers.every((answer) => answer.status === 200)).toBe(true)
        expect(yield* upstreamCalls(pool)).toHaveLength(300)

        expect((yield* models(pool.key, "?client_version=0.299.0")).status).toBe(200)
        expect(yield* upstreamCalls(pool)).toHaveLength(300)
        expect((yield* models(pool.key, "?client_version=0.0.0")).status).toBe(200)
        expect(yield* upstreamCalls(pool)).toHaveLength(301)
      }))

    it.effect("concurrent misses of one entry share one upstream call", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const burst = Array.from({ length: 8 }, () => models(pool.key, "?client_version=0.171.0"))
        const answers = yield* Effect.all(burst, { concurrency: "unbounded" })
        expect(answers.map((answer) => [answer.status, answer.headers.get("etag")])).toEqual(
          Array.from({ length: 8 }, () => [200, fake.modelsEtag])
        )
        expect(yield* upstreamCalls(pool)).toHaveLength(1)
      }))

    it.effect("the key's limits apply: an rpm 1 key's second catalog request gets 429", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { requestsPerMinute: 1 })
        expect((yield* models(key, "?client_version=0.169.0")).status).toBe(200)
        const refused = yield* models(key, "?client_version=0.169.0")
        expect([refused.status, JSON.parse(refused.text).error.code]).toEqual([429, "key_requests_per_minute"])
        expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
        expect(yield* upstreamCalls(pool)).toHaveLength(1)
      }))

    it.effect("no usable account: 503, the row is closed, and a max-concurrent 1 key can make its next request", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { maxConcurrent: 1 })
        yield* (yield* Accounts).pause(pool.accounts[0]!.id)
        const refused = yield* models(key, "?client_version=0.169.0")
        expect([refused.status, JSON.parse(refused.text).error.code]).toEqual([503, "no_account_available"])
        expect(yield* rowsOf(key)).toEqual([{ route: "models", status: "failed", errorCode: "no_account_available" }])
        expect(yield* inFlight("models")).toBe(0)

        yield* (yield* Accounts).resume(pool.accounts[0]!.id)
        const turn = yield* postResponses(key)
        expect(turn.status).toBe(200)
        // The turn's row closes just after its last byte; until then it is the key's one concurrent stream.
        yield* settledRow(turn.headers.get("x-codex-pooler-request-id") ?? "")
        expect((yield* models(key, "?client_version=0.169.0")).status).toBe(200)
        expect((yield* rowsOf(key)).map((row) => row["status"])).toEqual(["failed", "succeeded", "succeeded"])
      }))
  })
})
