import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { admin, signIn } from "./support/DashboardSession.ts"
import { backends } from "./support/Databases.ts"
import { gatewayLayer, setupPool } from "./support/Gateway.ts"

// The figure of one chart: its accessible label and each bar's title.
const chart = (page: string, pool: string, label: string) => {
  const section = page.split(`<h3>${pool}</h3>`)[1]?.split("<h3>")[0] ?? ""
  const figure = section.split("<figure").find((part) => part.includes(`aria-label="${label}:`)) ?? ""
  return {
    total: /aria-label="[^:]+: ([\d,]+) in all"/.exec(figure)?.[1],
    bars: [...figure.matchAll(/<title>([^<]+)<\/title>/g)].map((match) => match[1])
  }
}

describe.each(backends)("the dashboard's pictures on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("requests and tokens per Pool by hour and by day, and failed requests by code, drawn from the rows", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(0)
        const row = (id: string, hoursAgo: number, tokens: number, status: string, code: string | null) =>
          sql`INSERT INTO requests (id, pool_id, route, transport, status, error_code, total_tokens, started_at)
            VALUES (${id}, ${pool.poolId}, 'responses', 'sse', ${status}, ${code}, ${tokens},
              now() - make_interval(hours => ${hoursAgo}))`
        yield* row("req_c1", 0, 100, "succeeded", null)
        yield* row("req_c2", 0, 50, "failed", "usage_limit_reached")
        yield* row("req_c3", 5, 25, "failed", "usage_limit_reached")
        yield* row("req_c4", 5, 0, "failed", "http_500")
        yield* row("req_c5", 72, 1000, "succeeded", null)
        const reader = yield* signIn("read")
        const page = (yield* admin("/admin", { headers: { cookie: reader.cookie } })).text

        const hourly = chart(page, pool.slug, "requests, last 24 h by hour")
        expect(hourly.total).toBe("4")
        expect(hourly.bars).toHaveLength(24)
        expect(hourly.bars.filter((bar) => !bar?.endsWith(": 0"))).toHaveLength(2)
        expect(chart(page, pool.slug, "tokens, last 24 h by hour").total).toBe("175")
        const daily = chart(page, pool.slug, "tokens, last 7 days")
        expect(daily.total).toBe("1,175")
        expect(daily.bars).toHaveLength(7)
        const errors = page.split("<h2>Errors, last 24 h, by code</h2>")[1] ?? ""
        expect(errors.indexOf("usage_limit_reached")).toBeLessThan(errors.indexOf("http_500"))
        expect(errors).toMatch(/<code>usage_limit_reached<\/code><\/td><td class="n">2<\/td>/)
      }))
  })
})
