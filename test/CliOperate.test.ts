import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { CliResult } from "./support/Cli.ts"
import { cliInProcess, queryBetweenRuns } from "./support/CliInProcess.ts"
import { backendEnv, backends } from "./support/Databases.ts"

const keyId = "00000000000000aa"

// Each command runs in this process (CliInProcess.ts); test/Cli.test.ts runs the real binary.

// Pool "team" exists (made by the CLI, which also migrates); add an account cooling down with an open circuit, a
// paused one, a key with limits, and a second Pool.
const seedFleet = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    yield* sql`INSERT INTO pools (id, slug, name) VALUES ('pool_other', 'other', 'Other')`
    yield* sql`INSERT INTO accounts
        (id, chatgpt_account_id, email, status, access_token_enc, refresh_token_enc, id_token_enc)
      VALUES ('acct_a', 'chatgpt-a', 'lead@example.com', 'active', 'x', 'x', 'x'),
        ('acct_b', 'chatgpt-b', 'second@example.com', 'paused', 'x', 'x', 'x')`
    yield* sql`INSERT INTO pool_accounts (pool_id, account_id) SELECT id, 'acct_a' FROM pools WHERE slug = 'team'`
    yield* sql`INSERT INTO account_health (account_id, cooldown_until, cooldown_reason, circuit_state, circuit_opened_at,
        consecutive_failures) VALUES ('acct_a', now() + interval '10 minutes', 'rate_limited', 'open', now(), 3)`
    yield* sql`INSERT INTO pool_keys (id, pool_id, name, secret_hash, requests_per_minute, allowed_models)
      SELECT ${keyId}, id, 'ci', decode(repeat('00', 32), 'hex'), 60, ARRAY['gpt-5.5'] FROM pools WHERE slug = 'team'`
  })

const started = (env: Record<string, string>) =>
  Effect.gen(function*() {
    const run = (...args: Array<string>) => cliInProcess(args, env)
    expect((yield* run("pool", "create", "team")).code).toBe(0)
    yield* queryBetweenRuns(env, seedFleet)
    return run
  })

const succeeded = (result: CliResult) => {
  expect(result, result.stderr).toMatchObject({ code: 0 })
  return result.stdout
}

const keyLimits = (env: Record<string, string>) =>
  queryBetweenRuns(
    env,
    (sql) =>
      sql`SELECT requests_per_minute, tokens_per_day::float8 AS tokens_per_day, max_concurrent, allowed_models
      FROM pool_keys WHERE id = ${keyId}`
  )

describe.each(backends)("operator CLI parity with the MCP tools on %s", (backend) => {
  it.scoped(
    "set-strategy, clear-cooldown and set-limits change the database, each audited as cli",
    () =>
      Effect.gen(function*() {
        const env = yield* backendEnv(backend)
        const run = yield* started(env)

        expect(succeeded(yield* run("pool", "set-strategy", "team", "round_robin")))
          .toBe("pool team now uses strategy round_robin\n")
        const cleared = JSON.parse(succeeded(yield* run("account", "clear-cooldown", "acct_a", "--json")))
        expect(cleared).toMatchObject({
          id: "acct_a",
          email: "l***@example.com",
          cooldown: null,
          circuit: { state: "closed", consecutiveFailures: 0 }
        })
        const human = succeeded(yield* run("account", "clear-cooldown", "acct_a"))
        expect(human).toContain("cleared the cooldown of account acct_a l***@example.com: circuit closed, active")
        expect(human).not.toContain("lead@example.com")

        // Left out: unchanged; none: removed.
        const first = { requestsPerMinute: 60, tokensPerDay: 1000, maxConcurrent: null, allowedModels: null }
        const limited = yield* run("key", "set-limits", keyId, "--tokens-per-day", "1000", "--models", "none", "--json")
        expect(JSON.parse(succeeded(limited))).toMatchObject({ id: keyId, ...first })
        expect(limited.stdout).not.toContain("secretHash")
        expect(yield* keyLimits(env)).toEqual([first])
        const second = { requestsPerMinute: null, tokensPerDay: 1000, maxConcurrent: 2, allowedModels: ["a", "b"] }
        expect(
          succeeded(
            yield* run("key", "set-limits", keyId, "--rpm", "none", "--max-concurrent", "2", "--models", "a, b")
          )
        )
          .toContain(`key ${keyId} "ci" of pool team now has limits: 1000 tokens/day, 2 concurrent, models a,b`)
        expect(yield* keyLimits(env)).toEqual([second])

        const [state] = yield* queryBetweenRuns(env, (sql) =>
          sql`SELECT p.strategy, h.cooldown_until, h.cooldown_reason, h.circuit_state, h.consecutive_failures
          FROM pools p, account_health h WHERE p.slug = 'team' AND h.account_id = 'acct_a'`)
        expect(state).toEqual({
          strategy: "round_robin",
          cooldownUntil: null,
          cooldownReason: null,
          circuitState: "closed",
          consecutiveFailures: 0
        })
        const audit = yield* queryBetweenRuns(
          env,
          (sql) =>
            sql`SELECT actor_kind, action, target_id, details FROM audit_log WHERE action <> 'pool.create' ORDER BY id`
        )
        const byCli = (action: string, targetId: unknown, details: Record<string, unknown>) => ({
          actorKind: "cli",
          action,
          targetId,
          details
        })
        expect(audit).toEqual([
          byCli("pool.set_strategy", expect.stringMatching(/^pool_/), {
            from: "least_recently_used",
            to: "round_robin"
          }),
          byCli("account.clear_cooldown", "acct_a", { hadHealthRow: true }),
          byCli("account.clear_cooldown", "acct_a", { hadHealthRow: true }),
          byCli("key.set_limits", keyId, first),
          byCli("key.set_limits", keyId, { ...second, allowedModels: "a,b" })
        ])
      }),
    { timeout: 120_000 }
  )

  it.scoped(
    "bad input to the new commands exits non-zero with one readable line and writes nothing",
    () =>
      Effect.gen(function*() {
        const env = yield* backendEnv(backend)
        const run = yield* started(env)
        const snapshot = queryBetweenRuns(env, (sql) =>
          Effect.forEach(
            ["pools", "accounts", "account_health", "pool_keys", "audit_log"],
            (table) => sql`SELECT row_to_json(t)::text AS row FROM ${sql(table)} t ORDER BY 1`
          ))
        const before = yield* snapshot

        // A bad choice is a usage error, which @effect/cli reports itself with exit code 2, as for `pool create --strategy`.
        const failures = [
          [yield* run("pool", "set-strategy", "ghost", "round_robin"), 1, /^codex-pooler: no pool with slug "ghost"$/],
          [
            yield* run("pool", "set-strategy", "team", "random"),
            2,
            /^Expected one of the following cases: quota_first, /
          ],
          [
            yield* run("account", "clear-cooldown", "acct_missing"),
            1,
            /^codex-pooler: no account with id "acct_missing"$/
          ],
          [yield* run("key", "set-limits", "0000000000000000", "--rpm", "5"), 1, /^codex-pooler: no key with id "0+"$/],
          [
            yield* run("key", "set-limits", keyId, "--rpm", "-3", "--models", "x"),
            1,
            /^codex-pooler: --rpm must be a whole/
          ],
          [
            yield* run("key", "set-limits", keyId, "--max-concurrent", "1.5"),
            1,
            /^codex-pooler: --max-concurrent must be/
          ],
          [yield* run("key", "set-limits", keyId), 1, /^codex-pooler: give at least one of --rpm, --tokens-per-day, /],
          [yield* run("usage", "--since", "soon"), 1, /^codex-pooler: "soon" is not a duration/],
          [yield* run("requests", "--pool", "ghost"), 1, /^codex-pooler: no pool with slug "ghost"$/],
          [yield* run("requests", "--limit", "0"), 1, /^codex-pooler: --limit must be from 1 to 200$/]
        ] as const
        for (const [result, code, line] of failures) {
          expect([result.code, result.stdout]).toEqual([code, ""])
          expect(result.stderr.trimEnd().split("\n")).toHaveLength(1)
          expect(result.stderr.trimEnd()).toMatch(line)
        }
        expect(yield* snapshot).toEqual(before)
      }),
    { timeout: 120_000 }
  )

  it.scoped("usage, requests and status print the numbers of the rows in the database", () =>
    Effect.gen(function*() {
      const env = yield* backendEnv(backend)
      const run = yield* started(env)
      yield* queryBetweenRuns(env, (sql) =>
        Effect.gen(function*() {
          yield* sql`INSERT INTO requests (id, pool_id, key_id, account_id, route, transport, model, status, http_status,
              error_code, attempts, started_at, ended_at, input_tokens, cached_input_tokens, output_tokens, total_tokens)
            SELECT r.id, p.id, ${keyId}, 'acct_a', '/backend-api/codex/responses', 'sse', r.model, r.status, r.http_status,
              r.error_code, r.attempts, now() - r.age::interval, now() - r.age::interval, r.input, r.cached, r.output, r.total
            FROM (VALUES
              ('req_1', 'team', 'gpt-5.5', 'succeeded', 200, NULL, 1, '10 minutes', 100, 20, 50, 150),
              ('req_2', 'team', 'gpt-5.5', 'succeeded', 200, NULL, 1, '20 minutes', 200, 0, 100, 300),
              ('req_3', 'team', 'gpt-5.4', 'failed', 429, 'usage_limit_reached', 2, '2 hours', NULL, NULL, NULL, NULL),
              ('req_4', 'other', 'gpt-5.5', 'in_progress', NULL, NULL, 1, '1 minute', NULL, NULL, NULL, NULL),
              ('req_5', 'team', 'gpt-5.5', 'succeeded', 200, NULL, 1, '3 days', 1000, 0, 1000, 2000)
            ) AS r (id, pool, model, status, http_status, error_code, attempts, age, input, cached, output, total)
            JOIN pools p ON p.slug = r.pool`
          yield* sql`INSERT INTO request_attempts (request_id, attempt, account_id, started_at, http_status, outcome)
            VALUES ('req_3', 1, 'acct_b', now() - interval '2 hours', 502, 'retried'),
              ('req_3', 2, 'acct_a', now() - interval '2 hours', 429, 'failed')`
          yield* sql`INSERT INTO sessions (pool_id, kind, key_hash, account_id, expires_at)
            SELECT id, 'hard', 'live', 'acct_a', now() + interval '1 hour' FROM pools WHERE slug = 'team'
            UNION ALL SELECT id, 'soft', 'gone', 'acct_a', now() - interval '1 minute' FROM pools WHERE slug = 'team'`
        }))
      const json = (...args: Array<string>) =>
        Effect.map(run(...args, "--json"), (result) => JSON.parse(succeeded(result)))
      const zero = { succeeded: 0, failed: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, totalTokens: 0 }

      const tokens = (input: number, cached: number, output: number) => ({
        inputTokens: input,
        cachedInputTokens: cached,
        outputTokens: output,
        totalTokens: input + output
      })
      expect(yield* json("usage")).toMatchObject({
        by: "pool",
        groups: [
          { group: "team", requests: 3, succeeded: 2, failed: 1, ...tokens(300, 20, 150) },
          { ...zero, group: "other", requests: 1 }
        ]
      })
      const byModel = yield* json("usage", "--by", "model", "--since", "7d")
      expect(byModel.groups).toEqual([
        { group: "gpt-5.5", requests: 4, succeeded: 3, failed: 0, ...tokens(1300, 20, 1150) },
        { ...zero, group: "gpt-5.4", requests: 1, failed: 1 }
      ])
      expect(Date.parse(byModel.until) - Date.parse(byModel.since)).toBe(7 * 86_400_000)

      const page = yield* json("requests", "--pool", "team", "--limit", "2")
      expect(page).toMatchObject({
        requests: [{ id: "req_1", poolSlug: "team", totalTokens: 150 }, { id: "req_2" }],
        nextOffset: 2
      })
      expect(Object.keys(page.requests[0]).sort()).toEqual([
        "accountId",
        "attempts",
        "endedAt",
        "errorCode",
        "httpStatus",
        "id",
        "inputTokens",
        "keyId",
        "model",
        "outputTokens",
        "poolSlug",
        "route",
        "startedAt",
        "status",
        "totalTokens",
        "transport"
      ])
      expect((yield* json("requests")).requests.map((request: { id: string }) => request.id))
        .toEqual(["req_4", "req_1", "req_2", "req_3", "req_5"])

      expect(yield* json("status")).toMatchObject({
        status: "ok",
        database: "ok",
        counts: {
          pools: 2,
          accountsActive: 1,
          accountsPaused: 1,
          accountsReauthRequired: 0,
          accountsCoolingDown: 1,
          keysActive: 1,
          requestsInProgress: 1,
          requestsLastHour: 3,
          activeSessions: 1
        }
      })

      const tables = [
        succeeded(yield* run("usage")),
        succeeded(yield* run("requests", "--pool", "team")),
        succeeded(yield* run("status"))
      ]
      expect(tables[0]).toMatch(
        /^POOL +REQUESTS +SUCCEEDED +FAILED .*\nteam +3 +2 +1 +300 +20 +150 +450\nother +1 +0 +0/m
      )
      expect(tables[1]).toMatch(/^STARTED +ID +POOL +MODEL +STATUS/m)
      expect(tables[1]).toMatch(/ req_3 +team +gpt-5\.4 +failed +429 +usage_limit_reached +2 +- +acct_a /)
      expect(tables[2]).toContain("accounts  1 active, 1 paused, 0 need re-auth, 1 cooling down")
      expect(tables.join("\n")).not.toMatch(/lead@example\.com|second@example\.com/)
    }), { timeout: 120_000 })
})
