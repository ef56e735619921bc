import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { backends } from "./support/Databases.ts"
import { gatewayLayer, gatewayUrl } from "./support/Gateway.ts"
import { callTool, connectMcp } from "./support/Mcp.ts"
import { send } from "./support/Requests.ts"

const lastUsedAt = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT last_used_at FROM operator_tokens WHERE id = ${id}`).pipe(
    Effect.map((rows) => rows[0]?.["lastUsedAt"]),
    Effect.orDie
  )

// The write happens in the background, just after the request: wait (bounded) for it.
const written = (id: string) =>
  lastUsedAt(id).pipe(
    Effect.filterOrFail((value): value is Date => value instanceof Date),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("10 seconds"))),
    Effect.orDie
  )

describe.each(backends)("operator token last use on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.scoped("an MCP call and a /metrics scrape record when the token was last used, at most once a minute", () =>
      Effect.gen(function*() {
        const tokens = yield* OperatorTokens
        const mcp = yield* tokens.create({ scope: "read" })
        const scraper = yield* tokens.create({ scope: "read" })
        expect(yield* lastUsedAt(mcp.operatorToken.id)).toBeNull()
        expect(yield* lastUsedAt(scraper.operatorToken.id)).toBeNull()

        const client = yield* connectMcp(mcp.token)
        expect((yield* callTool(client, "list_pools")).isError).toBe(false)
        const first = yield* written(mcp.operatorToken.id)
        expect(Math.abs(first.getTime() - Date.now())).toBeLessThan(60_000)

        const url = yield* gatewayUrl
        const scrape = yield* send(`${url}/metrics`, { headers: { authorization: `Bearer ${scraper.token}` } })
        expect(scrape.status).toBe(200)
        yield* written(scraper.operatorToken.id)

        // Used again within the minute: not written again.
        expect((yield* callTool(client, "service_status")).isError).toBe(false)
        yield* Effect.sleep("500 millis")
        expect(yield* lastUsedAt(mcp.operatorToken.id)).toEqual(first)
        const listed = yield* tokens.list
        expect(listed.find((token) => token.id === mcp.operatorToken.id)?.lastUsedAt).toEqual(first)
      }))
  })
})
