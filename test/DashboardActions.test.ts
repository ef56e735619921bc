import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { Accounts } from "../src/Accounts.ts"
import { csrfToken } from "../src/DashboardSessions.ts"
import { actionPaths } from "../src/Http/Dashboard/Paths.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { Pools } from "../src/Pools.ts"
import { admin, csrfOf, formPost, signIn } from "./support/DashboardSession.ts"
import { backends } from "./support/Databases.ts"
import { Fake, firstInLine, gatewayLayer, postResponses, setupPool } from "./support/Gateway.ts"
import type { Answer } from "./support/Requests.ts"

// What the audit log holds for the operator token, as "actor_kind action target_id".
const audited = (tokenId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql`SELECT actor_kind, action, target_id FROM audit_log WHERE actor_id = ${tokenId} ORDER BY id`,
      (rows) => rows.map((row) => `${row["actorKind"]} ${row["action"]} ${row["targetId"]}`)
    ))

const expectDone = (answer: Answer, done: string, target: string) => {
  expect(answer.status).toBe(303)
  expect(answer.headers.get("location")).toBe(`/admin?${new URLSearchParams({ done, target })}`)
}

const keyOf = (id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql`SELECT name, status, requests_per_minute, tokens_per_day, max_concurrent, allowed_models
        FROM pool_keys WHERE id = ${id}`,
      (rows) => rows[0]
    ))

describe.each(backends)("dashboard actions on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("a key created on the page shows its secret once, on a no-store page; it works until revoked", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const operator = yield* signIn("admin")
        expect(operator.page.text).toContain(`action="${actionPaths.createKey}"`)
        expect(csrfOf(operator.page)).toBe(csrfToken(operator.session))

        const created = yield* operator.act(actionPaths.createKey, { pool: pool.slug, name: "from the page" })
        expect(created.status).toBe(200)
        expect(created.headers.get("cache-control")).toBe("no-store")
        expect(created.headers.get("set-cookie")).toBeNull()
        expect(created.headers.get("location")).toBeNull()
        const secret = /cpk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}/.exec(created.text)
        const keyId = secret?.[1] ?? ""
        expect((yield* keyOf(keyId))?.["name"]).toBe("from the page")
        expect((yield* postResponses(secret?.[0] ?? "", "thread-dash-key")).status).toBe(200)

        const again = yield* admin("/admin", { headers: { cookie: operator.cookie } })
        expect(again.text).toContain(keyId)
        expect(again.text).not.toContain(secret?.[0])

        const revoked = yield* operator.act(actionPaths.revokeKey, { key: keyId })
        expectDone(revoked, "revokeKey", keyId)
        const after = yield* admin(revoked.headers.get("location") ?? "", { headers: { cookie: operator.cookie } })
        expect(after.text).toContain(`Revoked key ${keyId}.`)
        expect(after.text).not.toContain(secret?.[0])
        expect((yield* keyOf(keyId))?.["status"]).toBe("revoked")
        yield* Effect.sleep("2100 millis")
        expect((yield* postResponses(secret?.[0] ?? "", "thread-dash-key")).status).toBe(401)
        expect(yield* audited(operator.tokenId)).toEqual([
          `operator_token key.create ${keyId}`,
          `operator_token key.revoke ${keyId}`
        ])
      }))

    it.effect("a paused account is skipped by routing; resume, clear rest and remove act on it, each audited", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(2)
        const [first, second] = [pool.accounts[0]!, pool.accounts[1]!]
        const operator = yield* signIn("admin")
        yield* firstInLine(pool)
        expectDone(yield* operator.act(actionPaths.pauseAccount, { account: first.id }), "pauseAccount", first.id)
        expect((yield* (yield* Accounts).get(first.id)).status).toBe("paused")
        fake.reset()
        expect((yield* postResponses(pool.key, "thread-dash-pause")).status).toBe(200)
        expect(fake.requests.map((request) => request.accountId)).toEqual([second.fake.accountId])

        expectDone(yield* operator.act(actionPaths.resumeAccount, { account: first.id }), "resumeAccount", first.id)
        expect((yield* (yield* Accounts).get(first.id)).status).toBe("active")
        expectDone(yield* operator.act(actionPaths.clearRest, { account: first.id }), "clearRest", first.id)
        const unconfirmed = yield* operator.act(actionPaths.removeAccount, { account: first.id })
        expect(unconfirmed.status).toBe(400)
        expect(unconfirmed.text).toContain("tick the box")
        expect((yield* (yield* Accounts).get(first.id)).status).toBe("active")
        const removed = yield* operator.act(actionPaths.removeAccount, { account: first.id, confirm: "yes" })
        expectDone(removed, "removeAccount", first.id)
        expect((yield* Effect.either((yield* Accounts).get(first.id)))._tag).toBe("Left")
        expect(yield* audited(operator.tokenId)).toEqual(
          ["pause", "resume", "clear_cooldown", "remove"].map((action) =>
            `operator_token account.${action} ${first.id}`
          )
        )
      }))

    it.effect("limits are set as `key set-limits` sets them; Pools are created and their strategy set", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const keyId = pool.key.split("_")[1] ?? ""
        const operator = yield* signIn("admin")
        const limits = { key: keyId, rpm: "5", tokens_per_day: "", max_concurrent: "", models: "gpt-5.5, gpt-5" }
        expectDone(yield* operator.act(actionPaths.setKeyLimits, limits), "setKeyLimits", keyId)
        expect(yield* keyOf(keyId)).toMatchObject({
          requestsPerMinute: 5,
          tokensPerDay: null,
          allowedModels: ["gpt-5.5", "gpt-5"]
        })
        yield* operator.act(actionPaths.setKeyLimits, { key: keyId, rpm: "none", max_concurrent: "3" })
        expect(yield* keyOf(keyId)).toMatchObject({
          requestsPerMinute: null,
          maxConcurrent: 3,
          allowedModels: ["gpt-5.5", "gpt-5"]
        })

        const slug = `pool-${randomBytes(4).toString("hex")}`
        const made = yield* operator.act(actionPaths.createPool, { slug, name: "Made here", strategy: "round_robin" })
        expectDone(made, "createPool", slug)
        const strategyOf = Effect.map(
          Effect.flatMap(Pools, (pools) => pools.findBySlug(slug)),
          (found) => found.strategy
        )
        expect(yield* strategyOf).toBe("round_robin")
        const set = yield* operator.act(actionPaths.setPoolStrategy, { pool: slug, strategy: "quota_first" })
        expectDone(set, "setPoolStrategy", slug)
        expect(yield* strategyOf).toBe("quota_first")
        const poolId = (yield* (yield* Pools).findBySlug(slug)).id
        expect(yield* audited(operator.tokenId)).toEqual([
          `operator_token key.set_limits ${keyId}`,
          `operator_token key.set_limits ${keyId}`,
          `operator_token pool.create ${poolId}`,
          `operator_token pool.set_strategy ${poolId}`
        ])
      }))

    it.effect("bad input answers the page again with its error (4xx) and writes nothing", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const keyId = pool.key.split("_")[1] ?? ""
        const operator = yield* signIn("admin")
        const taken = pool.slug
        const cases: ReadonlyArray<[string, Record<string, string>, number, string]> = [
          [actionPaths.setKeyLimits, { key: keyId, rpm: "0" }, 400, "rpm must be a whole number from 1 to 1000000"],
          [actionPaths.setKeyLimits, { key: keyId, max_concurrent: "2.5" }, 400, "max concurrent must be"],
          [actionPaths.setKeyLimits, { key: keyId, rpm: "" }, 400, "give at least one of"],
          [actionPaths.setKeyLimits, { key: "0000000000000000", rpm: "9" }, 404, "no key with id"],
          [actionPaths.pauseAccount, { account: "acct_unknown" }, 404, "no account with id"],
          [actionPaths.revokeKey, { key: "<b>x</b>" }, 404, "no key with id &quot;&lt;b&gt;x&lt;/b&gt;&quot;"],
          [actionPaths.createKey, { pool: "no-such-pool" }, 404, "no pool with slug"],
          [actionPaths.createKey, { pool: pool.slug, expires: "soon" }, 400, "is not a duration"],
          [actionPaths.createPool, { slug: "Bad Slug", strategy: "round_robin" }, 400, "must be lowercase letters"],
          [actionPaths.createPool, { slug: taken, strategy: "round_robin" }, 409, "already exists"],
          [actionPaths.createPool, { slug: "fine-slug", strategy: "fastest" }, 400, "strategy must be one of"],
          [actionPaths.setPoolStrategy, { pool: "no-such-pool", strategy: "quota_first" }, 404, "no pool with slug"]
        ]
        for (const [path, fields, status, message] of cases) {
          const answer = yield* operator.act(path, fields)
          expect([path, answer.status]).toEqual([path, status])
          expect(answer.headers.get("content-type")).toContain("text/html")
          expect(answer.text).toContain(message)
          expect(answer.text).toContain(`action="${actionPaths.createKey}"`)
        }
        expect(yield* keyOf(keyId)).toMatchObject({ requestsPerMinute: null, maxConcurrent: null, status: "active" })
        expect((yield* Effect.either(Effect.flatMap(Pools, (pools) => pools.findBySlug("fine-slug"))))._tag)
          .toBe("Left")
        expect(yield* audited(operator.tokenId)).toEqual([])
      }))

    it.effect("a post without the CSRF token, with another session's, or from another origin is a 403 changing nothing", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const account = pool.accounts[0]!.id
        const operator = yield* signIn("admin")
        const other = yield* signIn("admin")
        const attempts = [
          formPost(actionPaths.pauseAccount, { cookie: operator.cookie }, { account }),
          formPost(actionPaths.pauseAccount, { cookie: operator.cookie }, { account, csrf: "" }),
          formPost(actionPaths.pauseAccount, { cookie: operator.cookie }, { account, csrf: csrfOf(other.page) }),
          operator.act(actionPaths.pauseAccount, { account }, { origin: "http://evil.example" }),
          operator.act(actionPaths.pauseAccount, { account }, { origin: "null" })
        ]
        for (const attempt of attempts) {
          const refused = yield* attempt
          expect(refused.status).toBe(403)
          expect(refused.headers.get("cache-control")).toBe("no-store")
          expect(refused.text).toContain("Nothing was changed.")
        }
        expect((yield* (yield* Accounts).get(account)).status).toBe("active")
        expect([...(yield* audited(operator.tokenId)), ...(yield* audited(other.tokenId))]).toEqual([])
        // The same form with its own token goes through, so the refusals above were for the token and the origin.
        expectDone(yield* operator.act(actionPaths.pauseAccount, { account }), "pauseAccount", account)
      }))

    it.effect("a read token's page has no action forms, and its posts with a valid CSRF token are a 403", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const account = pool.accounts[0]!.id
        const reader = yield* signIn("read")
        expect(reader.page.text).toContain(pool.slug)
        expect(reader.page.text).toContain(`action="/admin/logout"`)
        // its only form is sign-out's, which carries the session's CSRF token like any post
        expect(reader.page.text.match(/<form /g)).toHaveLength(1)
        expect(reader.page.text.match(/name="csrf"/g)).toHaveLength(1)
        for (const path of Object.values(actionPaths)) expect(reader.page.text).not.toContain(path)
        const csrf = csrfToken(reader.session)
        const cookie = reader.cookie
        const slug = `pool-${randomBytes(4).toString("hex")}`
        for (
          const [path, fields] of [
            [actionPaths.pauseAccount, { account }],
            [actionPaths.createKey, { pool: pool.slug }],
            [actionPaths.createPool, { slug, strategy: "round_robin" }]
          ] as const
        ) {
          const refused = yield* formPost(path, { cookie }, { csrf, ...fields })
          expect(refused.status).toBe(403)
          expect(refused.text).toContain("read scope")
          expect(refused.text).not.toMatch(/cpk_/)
        }
        expect((yield* (yield* Accounts).get(account)).status).toBe("active")
        expect((yield* Effect.either(Effect.flatMap(Pools, (pools) => pools.findBySlug(slug))))._tag).toBe("Left")
        expect((yield* (yield* PoolKeys).list).filter((key) => key.poolSlug === pool.slug)).toHaveLength(1)
        expect(yield* audited(reader.tokenId)).toEqual([])
      }))
  })
})
