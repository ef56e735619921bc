import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { actionPaths } from "../src/Http/Dashboard/Paths.ts"
import { admin, signIn } from "./support/DashboardSession.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, rewriteRouting, setupPool } from "./support/Gateway.ts"

describe.each(backends)("the dashboard's saved resets and Pool policies on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("an account resting at its limit gets a redeem button that spends one saved reset and ends its rest", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(2)
        const [resting, working] = [pool.accounts[0]!, pool.accounts[1]!]
        fake.setRateLimits(resting.fake.accountId, { primaryUsedPercent: 100, resetCredits: 1 })
        yield* rewriteRouting(
          sql`INSERT INTO account_health (account_id, cooldown_until, cooldown_reason, reset_credits)
          VALUES (${resting.id}, now() + interval '1 hour', 'usage_limit', 1)`
        )
        const operator = yield* signIn("admin")
        // only the resting account is offered one, and each button names its account for a screen reader
        expect(operator.page.text).toContain(`aria-label="Redeem a saved reset account ${resting.id}"`)
        expect(operator.page.text).not.toContain(`aria-label="Redeem a saved reset account ${working.id}"`)
        expect(operator.page.text).toContain(`aria-label="Pause account ${working.id}"`)

        const redeemed = yield* operator.act(actionPaths.redeemReset, { account: resting.id })
        expect(redeemed.status).toBe(303)
        expect(redeemed.headers.get("location")).toBe(`/admin?done=redeemReset&target=${resting.id}`)
        const [health] = yield* sql<{ cooldownUntil: Date | null }>`
          SELECT cooldown_until FROM account_health WHERE account_id = ${resting.id}`
        expect(health?.cooldownUntil).toBeNull()
        const audit = yield* sql<{ actorId: string }>`
          SELECT actor_id FROM audit_log WHERE action = 'account.redeem_reset' AND target_id = ${resting.id}`
        expect(audit).toEqual([{ actorId: operator.tokenId }])
        // the working account has nothing to reset: refused, nothing asked of upstream
        fake.reset()
        const refused = yield* operator.act(actionPaths.redeemReset, { account: working.id })
        expect(refused.status).toBe(409)
        expect(refused.text).toContain("is not resting at its usage limit")
        expect(fake.requests.filter((request) => request.path.includes("rate-limit-reset-credits"))).toEqual([])
      }))

    it.effect("a Pool's policies are turned on and off from the page, audited; a bad flag changes nothing", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(0)
        const operator = yield* signIn("admin")
        expect(operator.page.text).toContain(`aria-label="Turn /v1 off for Pool ${pool.slug}"`)
        const flags = Effect.map(
          sql<{ autoRedeemResets: boolean; v1Enabled: boolean }>`
            SELECT auto_redeem_resets, v1_enabled FROM pools WHERE id = ${pool.poolId}`,
          (rows) => rows[0]
        )
        expect(
          (yield* operator.act(actionPaths.setPoolFlag, { pool: pool.slug, flag: "v1Enabled", on: "false" })).status
        )
          .toBe(303)
        expect(
          (yield* operator.act(actionPaths.setPoolFlag, { pool: pool.slug, flag: "autoRedeemResets", on: "true" }))
            .status
        ).toBe(303)
        expect(yield* flags).toEqual({ autoRedeemResets: true, v1Enabled: false })
        const page = yield* admin("/admin", { headers: { cookie: operator.cookie } })
        expect(page.text).toContain(`aria-label="Turn /v1 on for Pool ${pool.slug}"`)
        expect(page.text).toContain(`aria-label="Turn automatic reset redemption off for Pool ${pool.slug}"`)
        for (const fields of [{ flag: "status", on: "true" }, { flag: "v1Enabled", on: "maybe" }]) {
          const bad = yield* operator.act(actionPaths.setPoolFlag, { pool: pool.slug, ...fields })
          expect(bad.status).toBe(400)
        }
        expect(yield* flags).toEqual({ autoRedeemResets: true, v1Enabled: false })
        const audit = yield* sql<{ action: string }>`
          SELECT action FROM audit_log WHERE actor_id = ${operator.tokenId} ORDER BY id`
        expect(audit.map((row) => row.action)).toEqual(["pool.set_v1", "pool.set_auto_redeem"])
      }))
  })
})
