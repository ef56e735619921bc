import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { admin, signIn } from "./support/DashboardSession.ts"
import { backends } from "./support/Databases.ts"
import { gatewayLayer, setupPool } from "./support/Gateway.ts"

const rowsIn = (text: string) => [...text.matchAll(/<tr><td><code>(req_[^<]+)<\/code>/g)].map((match) => match[1])

describe.each(backends)("the dashboard's request log on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("filters by Pool and status, pages 50 at a time, and refuses a bad filter with its reason", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const [ours, theirs] = [yield* setupPool(0), yield* setupPool(0)]
        const insert = (poolId: string, id: string, minutesAgo: number, status: string) =>
          sql`INSERT INTO requests (id, pool_id, route, transport, model, status, started_at)
            VALUES (${id}, ${poolId}, 'responses', 'sse', 'gpt-5.5', ${status}, now() - make_interval(mins => ${minutesAgo}))`
        for (let i = 0; i < 60; i++) {
          yield* insert(ours.poolId, `req_ours_${String(i).padStart(2, "0")}`, i, i % 10 === 0 ? "failed" : "succeeded")
        }
        yield* insert(theirs.poolId, "req_theirs_00", 0, "succeeded")
        const reader = yield* signIn("read")
        const look = (query: string) => admin(`/admin/requests${query}`, { headers: { cookie: reader.cookie } })

        const first = yield* look(`?pool=${ours.slug}`)
        expect(first.status).toBe(200)
        const firstRows = rowsIn(first.text)
        expect(firstRows).toHaveLength(50)
        expect(firstRows[0]).toBe("req_ours_00")
        expect(firstRows).not.toContain("req_theirs_00")
        const older = /href="(\/admin\/requests\?[^"]*offset=50[^"]*)">Older/.exec(first.text)?.[1]?.replaceAll(
          "&amp;",
          "&"
        )
        expect(older).toBeDefined()
        const second = yield* look(older?.slice("/admin/requests".length) ?? "")
        expect(rowsIn(second.text)).toEqual(Array.from({ length: 10 }, (_, i) => `req_ours_${50 + i}`))
        expect(second.text).toContain(">Newer<")
        expect(second.text).not.toContain(">Older<")

        const failed = yield* look(`?pool=${ours.slug}&status=failed`)
        expect(rowsIn(failed.text)).toEqual([
          "req_ours_00",
          "req_ours_10",
          "req_ours_20",
          "req_ours_30",
          "req_ours_40",
          "req_ours_50"
        ])

        for (
          const [query, reason] of [
            ["?status=maybe", "status must be one of"],
            ["?since=yesterday", "since must be a time"],
            ["?offset=-1", "offset must be a whole number"],
            ["?pool=a&pool=b", "pool is given more than once"]
          ] as const
        ) {
          const refused = yield* look(query)
          expect(refused.status, query).toBe(400)
          expect(refused.text).toContain(reason)
        }

        // an operator token as a bearer may read it too; nobody else
        const { token } = yield* Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope: "read" }))
        expect((yield* admin("/admin/requests", { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
        expect((yield* admin("/admin/requests")).status).toBe(401)
      }))
  })
})
