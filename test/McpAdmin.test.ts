import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { backends } from "./support/Databases.ts"
import { gatewayLayer, setupPool } from "./support/Gateway.ts"
import { callTool, connectMcp } from "./support/Mcp.ts"

const connect = connectMcp
const call = callTool

const admin = Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope: "admin" }))

const auditRows = (tokenId: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql`SELECT actor_kind, action, target_kind, target_id FROM audit_log WHERE actor_id = ${tokenId} ORDER BY id`
  )

describe.each(backends)("operator MCP write tools on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.scoped("an admin token pauses, resumes and clears an account's cooldown, each audited with its token id", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { operatorToken, token } = yield* admin
        const client = yield* connect(token)
        const listed = yield* Effect.promise(() => client.listTools())
        expect(listed.tools.filter((tool) => tool.annotations?.readOnlyHint === false).map((tool) => tool.name).sort())
          .toEqual([
            "clear_account_cooldown",
            "create_key",
            "finish_account_login",
            "pause_account",
            "redeem_reset_credit",
            "resume_account",
            "revoke_key",
            "set_key_limits",
            "set_pool_auto_redeem",
            "set_pool_strategy",
            "set_pool_v1",
            "start_account_login"
          ])
        expect(listed.tools).toHaveLength(22)
        const pool = yield* setupPool(1)
        const accountId = pool.accounts[0]?.id ?? ""
        yield* sql`INSERT INTO account_health (account_id, cooldown_until, cooldown_reason, circuit_state, consecutive_failures)
          VALUES (${accountId}, now() + interval '10 minutes', 'rate_limited', 'open', 3)`
        const before = yield* call(client, "get_account", { accountId })
        expect(before.structured).toMatchObject({
          account: { cooldown: { reason: "rate_limited" }, circuit: { state: "open" } }
        })
        expect(yield* call(client, "pause_account", { accountId })).toMatchObject({
          structured: { account: { status: "paused" } }
        })
        expect(yield* call(client, "resume_account", { accountId })).toMatchObject({
          structured: { account: { status: "active" } }
        })
        const cleared = yield* call(client, "clear_account_cooldown", { accountId })
        expect(cleared.structured).toMatchObject({
          account: { cooldown: null, circuit: { state: "closed", consecutiveFailures: 0 } }
        })
        expect(yield* auditRows(operatorToken.id)).toEqual([
          { actorKind: "operator_token", action: "account.pause", targetKind: "account", targetId: accountId },
          { actorKind: "operator_token", action: "account.resume", targetKind: "account", targetId: accountId },
          { actorKind: "operator_token", action: "account.clear_cooldown", targetKind: "account", targetId: accountId }
        ])
      }))

    it.scoped("an admin token sets a strategy and creates, limits and revokes a key; reads leave no audit row", () =>
      Effect.gen(function*() {
        const { operatorToken, token } = yield* admin
        const client = yield* connect(token)
        const pool = yield* setupPool(1)
        const strategy = yield* call(client, "set_pool_strategy", { pool: pool.slug, strategy: "round_robin" })
        expect(strategy.structured).toMatchObject({ pool: { slug: pool.slug, strategy: "round_robin" } })
        const created = yield* call(client, "create_key", { pool: pool.slug, name: "ci", expires: "30d" })
        expect(created.structured).toMatchObject({
          key: { name: "ci", status: "active" },
          token: expect.stringMatching(/^cpk_/)
        })
        const secret = String(Reflect.get(created.structured ?? {}, "token"))
        const keyId = (yield* (yield* PoolKeys).verify(secret)).id
        const limited = yield* call(client, "set_key_limits", {
          keyId,
          requestsPerMinute: 60,
          allowedModels: ["gpt-5.5"]
        })
        expect(limited.structured).toMatchObject({
          key: {
            limits: { requestsPerMinute: 60, tokensPerDay: null, maxConcurrent: null, allowedModels: ["gpt-5.5"] }
          }
        })
        const partial = yield* call(client, "set_key_limits", { keyId, tokensPerDay: 100_000, allowedModels: null })
        expect(partial.structured).toMatchObject({
          key: { limits: { requestsPerMinute: 60, tokensPerDay: 100_000, allowedModels: null } }
        })
        const listed = yield* call(client, "list_keys", { pool: pool.slug })
        expect(JSON.stringify(listed)).not.toContain(secret)
        expect(yield* call(client, "revoke_key", { keyId })).toMatchObject({
          structured: { key: { status: "revoked" } }
        })
        const refused = yield* Effect.flip((yield* PoolKeys).verify(secret))
        expect(refused.reason).toEqual("revoked")
        expect((yield* auditRows(operatorToken.id)).map((row) => [row["action"], row["targetId"]])).toEqual([
          ["pool.set_strategy", pool.poolId],
          ["key.create", keyId],
          ["key.set_limits", keyId],
          ["key.set_limits", keyId],
          ["key.revoke", keyId]
        ])
      }))

    it.scoped("bad write input is a tool error and changes nothing", () =>
      Effect.gen(function*() {
        const { operatorToken, token } = yield* admin
        const client = yield* connect(token)
        const pool = yield* setupPool(1)
        const keyId = pool.key.split("_")[1] ?? ""
        const cases = yield* Effect.all([
          call(client, "pause_account", { accountId: "acct_missing" }),
          call(client, "set_pool_strategy", { pool: pool.slug, strategy: "random" }),
          call(client, "set_pool_strategy", { pool: "no-such-pool", strategy: "round_robin" }),
          call(client, "set_key_limits", { keyId, requestsPerMinute: 0 }),
          call(client, "set_key_limits", { keyId, maxConcurrent: 1.5 }),
          call(client, "set_key_limits", { keyId }),
          call(client, "revoke_key", { keyId: "0000000000000000" }),
          call(client, "create_key", { pool: pool.slug, expires: "forever" }),
          call(client, "create_key", { pool: "no-such-pool" })
        ])
        expect(cases.map((result) => result.isError)).toEqual(Array(9).fill(true))
        expect(cases[0]?.text).toContain("no account with id")
        expect(cases[1]?.text).toContain("round_robin")
        expect(cases[2]?.text).toContain("no pool")
        expect(cases[3]?.text).toContain("between 1 and 1000000")
        expect(cases[5]?.text).toContain("at least one of")
        expect(cases[6]?.text).toContain("no key")
        expect(cases[7]?.text).toContain("is not a duration")
        expect(cases[8]?.text).toContain("no pool")
        expect(yield* auditRows(operatorToken.id)).toEqual([])
      }))
  })
})
