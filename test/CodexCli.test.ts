import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { backends } from "./support/Databases.ts"
import { codexExec } from "./support/Codex.ts"
import { Fake, gatewayLayer, gatewayUrl, setupPool } from "./support/Gateway.ts"
import { settledRow } from "./support/Rows.ts"

const responsesCalls = <R extends { readonly path: string; readonly kind: string }>(requests: ReadonlyArray<R>) =>
  requests.filter((request) => request.kind === "http" && request.path === "/backend-api/codex/responses")

const inputTypes = (body: unknown) =>
  typeof body === "object" && body !== null && "input" in body && Array.isArray(body.input)
    ? body.input.map((item: { type?: string }) => item.type)
    : []

// Codex CLI 0.169.0 through the gateway over HTTP/SSE, end to end.
describe.each(backends)("codex exec through the gateway on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.scoped("says hi with the fake's answer, on an account's credentials, and the request is accounted", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        fake.reset()
        fake.setAnswer("Hello from the pooled account")
        const run = yield* codexExec({ origin: yield* gatewayUrl, key: pool.key, prompt: "say hi", transport: "http" })
        fake.setAnswer("hi")
        expect(run.code, run.stderr).toBe(0)
        expect(run.stdout).toContain("Hello from the pooled account")
        const calls = responsesCalls(fake.requests)
        expect(calls).toHaveLength(1)
        const used = pool.accounts.find((account) => account.fake.accountId === calls[0]?.accountId)
        expect(calls[0]?.headers["authorization"]).toEqual(`Bearer ${used?.fake.accessToken}`)
        expect(calls[0]?.headers["originator"]).toEqual("codex_exec")
        expect(JSON.stringify(calls)).not.toContain(pool.key)
        const row = yield* settledRow(String((yield* requestIds(pool.poolId))[0]))
        expect(row).toMatchObject({ status: "succeeded", route: "responses", accountId: used?.id, inputTokens: "1234" })
      }))

    it.scoped("runs a tool round trip: the tool output goes back on the same account", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        fake.reset()
        const run = yield* codexExec({ origin: yield* gatewayUrl, key: pool.key, prompt: "run tool please", transport: "http" })
        expect(run.code, run.stderr).toBe(0)
        const calls = responsesCalls(fake.requests)
        expect(calls).toHaveLength(2)
        expect(inputTypes(calls[1]?.body)).toContain("function_call_output")
        expect(JSON.stringify(calls[1]?.body)).toContain("fake-tool")
        expect(calls[1]?.headers["x-codex-turn-state"]).toBeDefined()
        expect(calls[1]?.accountId).toEqual(calls[0]?.accountId)
      }))

    it.scoped("compacts remotely when the context fills up (compaction_trigger) and finishes the turn", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        fake.setUsage({ inputTokens: 262_000, cachedTokens: 0, outputTokens: 50, reasoningTokens: 0 })
        const run = yield* codexExec({ origin: yield* gatewayUrl, key: pool.key, prompt: "run tool then answer", transport: "http" })
        fake.setUsage({ inputTokens: 1234, cachedTokens: 1000, outputTokens: 5, reasoningTokens: 0 })
        expect(run.code, run.stderr).toBe(0)
        const calls = responsesCalls(fake.requests)
        const triggers = calls.filter((call) => inputTypes(call.body).includes("compaction_trigger"))
        expect(triggers.length).toBeGreaterThanOrEqual(1)
        const after = calls.slice(calls.indexOf(triggers[0]!) + 1)
        expect(after.some((call) => inputTypes(call.body).includes("compaction"))).toBe(true)
      }))
  })
})

const requestIds = (poolId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT id FROM requests WHERE pool_id = ${poolId} ORDER BY started_at`)
    .pipe(Effect.map((rows) => rows.map((row) => row["id"])))
