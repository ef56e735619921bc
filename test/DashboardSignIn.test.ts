import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { actionPaths } from "../src/Http/Dashboard/Paths.ts"
import { admin, signIn } from "./support/DashboardSession.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, setupPool } from "./support/Gateway.ts"

describe.each(backends)("signing accounts in from the dashboard on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("an admin adds an account by device code: the page shows the code, reloads itself, then the account", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(0)
        const owner = fake.addAccount({ email: "owner@example.com" })
        const operator = yield* signIn("admin")
        expect(operator.page.text).toContain(`action="${actionPaths.signInAccount}"`)

        const started = yield* operator.act(actionPaths.signInAccount, { pool: pool.slug })
        expect(started.status).toBe(303)
        const follow = started.headers.get("location") ?? ""
        expect(follow).toMatch(/^\/admin\/sign-in\?id=signin_[0-9a-f]{16}$/)
        const [code] = fake.deviceCodes()
        const waiting = yield* admin(follow, { headers: { cookie: operator.cookie } })
        expect(waiting.status).toBe(200)
        expect(waiting.text).toContain(`${fake.authUrl}/codex/device`)
        expect(waiting.text).toContain(code?.userCode ?? "no code")
        expect(waiting.text).toContain(`http-equiv="refresh"`)

        fake.approveDevice(code?.userCode ?? "", owner.accountId)
        const done = yield* admin(follow, { headers: { cookie: operator.cookie } })
        expect(done.status).toBe(200)
        expect(done.text).toContain("Signed in")
        expect(done.text).not.toContain(`http-equiv="refresh"`)
        const [account] = yield* sql<{ id: string }>`
          SELECT a.id FROM accounts a JOIN pool_accounts pa ON pa.account_id = a.id
          WHERE pa.pool_id = ${pool.poolId} AND a.chatgpt_account_id = ${owner.accountId}`
        expect(done.text).toContain(account?.id ?? "no account")
        const audit = yield* sql<{ actorId: string }>`
          SELECT actor_id FROM audit_log WHERE action = 'account.sign_in' AND target_id = ${account?.id ?? ""}`
        expect(audit).toEqual([{ actorId: operator.tokenId }])
      }))

    it.effect("a read token cannot start one, nor follow one; an unknown sign-in says so", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(0)
        const reader = yield* signIn("read")
        expect(reader.page.text).not.toContain(actionPaths.signInAccount)
        const before = fake.deviceCodes().length
        const refused = yield* reader.act(actionPaths.signInAccount, { pool: pool.slug })
        expect(refused.status).toBe(403)
        expect(fake.deviceCodes()).toHaveLength(before)
        expect(
          (yield* admin("/admin/sign-in?id=signin_0000000000000000", { headers: { cookie: reader.cookie } })).status
        )
          .toBe(403)
        const operator = yield* signIn("admin")
        const unknown = yield* admin("/admin/sign-in?id=signin_0000000000000000", {
          headers: { cookie: operator.cookie }
        })
        expect(unknown.status).toBe(400)
        expect(unknown.text).toContain("no sign-in signin_0000000000000000")
      }))
  })
})
