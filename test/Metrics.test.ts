import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { backends } from "./support/Databases.ts"
import { Fake, firstInLine, gatewayLayer, gatewayUrl, postResponses, setupPool } from "./support/Gateway.ts"
import { send } from "./support/Requests.ts"
import { eventually, settledRow } from "./support/Rows.ts"

// Prometheus' text format, sample lines only: `name{label="value",…} number`.
const samples = (text: string) =>
  text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).map((line) => {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]])
    )
    return { name: match[1]!, labels, value: Number(match[3]) }
  })

const valueOf = (text: string, name: string, labels: Record<string, string> = {}) =>
  samples(text)
    .filter((sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
    )
    .reduce((sum, sample) => sum + sample.value, 0)

const scrape = (authorization?: string) =>
  Effect.flatMap(
    gatewayUrl,
    (url) => send(`${url}/metrics`, authorization === undefined ? {} : { headers: { authorization } })
  )

describe.each(backends)("metrics on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("GET /metrics wants an operator token; a Pool key or none gets 401", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        for (
          const authorization of [
            undefined,
            `Bearer ${pool.key}`,
            "Bearer cpo_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
          ]
        ) {
          const refused = yield* scrape(authorization)
          expect(refused.status).toBe(401)
          expect(refused.headers.get("www-authenticate")).toContain("Bearer")
          expect(JSON.parse(refused.text).error.code).toEqual("invalid_operator_token")
        }
        const { token } = yield* (yield* OperatorTokens).create({ scope: "read" })
        const scraped = yield* scrape(`Bearer ${token}`)
        expect(scraped.status).toBe(200)
        expect(scraped.headers.get("content-type")).toContain("text/plain")
        // The process's own numbers come along.
        expect(valueOf(scraped.text, "codex_pooler_process_cpu_seconds_total")).toBeGreaterThan(0)
        expect(samples(scraped.text).some((sample) => sample.name === "codex_pooler_nodejs_eventloop_lag_seconds"))
          .toBe(true)
      }))

    it.effect("requests, attempts, tokens, the gateway's own errors and the Pools' accounts are counted", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const [a, b] = [pool.accounts[0]!, pool.accounts[1]!]
        const { token } = yield* (yield* OperatorTokens).create({ scope: "read" })
        const before = (yield* scrape(`Bearer ${token}`)).text

        // One request served after a failover (A at its usage limit), one with a bad key.
        yield* firstInLine(pool)
        fake.fault(a.fake.accountId, { kind: "usage_limit", resetsInSeconds: 1800 })
        const served = yield* postResponses(pool.key, "thread-metrics")
        expect(served.status).toBe(200)
        yield* settledRow(served.headers.get("x-codex-pooler-request-id") ?? "")
        expect((yield* postResponses("cpk_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).status).toBe(
          401
        )

        const change = (text: string, name: string, labels: Record<string, string> = {}) =>
          valueOf(text, name, labels) - valueOf(before, name, labels)
        // The counters follow the row's final write, and the quota is recorded beside it: scrape once all are in.
        const after = (yield* eventually(scrape(`Bearer ${token}`), ({ text }) =>
          change(text, "codex_pooler_requests_total", { route: "responses", outcome: "succeeded" }) > 0 &&
          change(text, "codex_pooler_upstream_attempts_total", { outcome: "succeeded" }) > 0 &&
          samples(text).some((sample) =>
            sample.name === "codex_pooler_account_quota_used_percent" && sample.labels["account"] === b.id
          ))).text
        const delta = (name: string, labels: Record<string, string> = {}) =>
          change(after, name, labels)
        expect(delta("codex_pooler_requests_total", { route: "responses", transport: "sse", outcome: "succeeded" }))
          .toBe(1)
        expect(delta("codex_pooler_upstream_attempts_total", { outcome: "retried" })).toBe(1)
        expect(delta("codex_pooler_upstream_attempts_total", { outcome: "succeeded" })).toBe(1)
        expect(delta("codex_pooler_request_duration_seconds_count", { route: "responses", transport: "sse" })).toBe(1)
        expect(delta("codex_pooler_time_to_first_byte_seconds_count", { route: "responses", transport: "sse" })).toBe(1)
        expect(delta("codex_pooler_tokens_total", { kind: "output" })).toBeGreaterThan(0)
        expect(delta("codex_pooler_gateway_errors_total", { status: "401", code: "invalid_api_key" })).toBe(1)
        expect(valueOf(after, "codex_pooler_requests_in_flight", { route: "responses", transport: "sse" })).toBe(0)

        // Pool state is read from the database at scrape time: both active, A resting at its limit.
        expect(valueOf(after, "codex_pooler_pool_accounts", { pool: pool.slug, state: "active" })).toBe(2)
        expect(valueOf(after, "codex_pooler_pool_accounts", { pool: pool.slug, state: "resting" })).toBe(1)
        expect(valueOf(after, "codex_pooler_account_quota_used_percent", { account: b.id, window: "primary" })).toBe(
          12.5
        )
        expect(valueOf(after, "codex_pooler_instances")).toBe(1)

        // Ids and slugs only: no key, token or e-mail.
        for (const secret of [pool.key, token, a.fake.email, b.fake.email, a.fake.accessToken, b.fake.accessToken]) {
          expect(after).not.toContain(secret)
        }
      }))
  })
})
