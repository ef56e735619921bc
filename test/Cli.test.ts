import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { SqlLive } from "../src/Sql.ts"
import { makeAuthJson } from "./support/AuthJson.ts"
import { runBinary } from "./support/Binary.ts"
import type { CliResult } from "./support/Cli.ts"
import { cliInProcess } from "./support/CliInProcess.ts"
import { backendEnv, backends, configFrom, tempDir } from "./support/Databases.ts"

const lastLine = (result: CliResult) => result.stdout.trimEnd().split("\n").at(-1) ?? ""

const dumpDatabase = (env: Record<string, string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tables = yield* sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`
    const rows = yield* Effect.forEach(tables, (table) =>
      sql`SELECT row_to_json(t)::text AS row FROM ${sql(String(table["tableName"]))} t`)
    return JSON.stringify(rows)
  }).pipe(Effect.provide(SqlLive.pipe(Layer.provide(configFrom(env)))), Effect.scoped)

const filesUnder = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(path.join(dir, entry.name)) : [path.join(dir, entry.name)]
  )

const writeAuthFile = (auth: unknown) =>
  Effect.map(tempDir("auth"), (dir) => {
    const file = path.join(dir, "auth.json")
    fs.writeFileSync(file, JSON.stringify(auth))
    return file
  })

// The real binary, a child process each: the rest of this file runs the same pipeline in process (CliInProcess.ts).
describe.each(backends)("the codex-pooler binary on %s", (backend) => {
  it.scoped(
    "pool → account → key → list: the secret alone on the last line, never in a log or a listing",
    () =>
      Effect.gen(function*() {
        // A first start: the embedded data dir is made from nothing, as `npx codex-pooler` on a new machine does.
        const env = { ...(yield* backendEnv(backend, { fresh: true })), LOG_LEVEL: "all" }
        const run = (...args: Array<string>) => runBinary(args, env)
        const auth = makeAuthJson({ email: "lead@example.com" })
        const authFile = yield* writeAuthFile(auth)
        const results = [
          yield* run("pool", "create", "team-x"),
          yield* run("account", "import", "--pool", "team-x", authFile),
          yield* run("key", "create", "--pool", "team-x", "--name", "laptop"),
          yield* run("key", "list")
        ]
        for (const result of results) expect(result, result.stderr).toMatchObject({ code: 0 })
        const [pool, account, created, listed] = results.map((result) => result.stdout)
        expect(pool).toContain("created pool team-x")
        expect(account).toContain("imported account")
        const lines = created?.trimEnd().split("\n") ?? []
        const key = lines.at(-1) ?? ""
        expect(key).toMatch(/^cpk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)
        expect(lines.slice(0, -1).join("\n")).not.toContain(key.slice(-43))
        expect(listed).toContain("laptop")
        const logs = results.map((result) => result.stderr).join("\n")
        expect(logs).toContain("Running migration")
        for (const secret of [key.slice(-43), auth.tokens.access_token, auth.tokens.refresh_token]) {
          expect(listed).not.toContain(secret)
          expect(logs).not.toContain(secret)
        }
      }),
    // Four starts of the real binary on a first-run PGlite: a bound for a loaded machine, not a measure of speed.
    { timeout: 180_000 }
  )

  it.scoped("bad input exits 1 with one line on stderr and nothing on stdout", () =>
    Effect.gen(function*() {
      const env = yield* backendEnv(backend)
      const authFile = yield* writeAuthFile(makeAuthJson())
      const result = yield* runBinary(["account", "import", "--pool", "ghost", authFile], env)
      expect(result).toEqual({ code: 1, stdout: "", stderr: "codex-pooler: no pool with slug \"ghost\"\n" })
    }), { timeout: 60_000 })
})

describe("key auth-json", () => {
  it.scoped(
    "prints a Codex sign-in carrying the key from the environment; without one, exits 1 with one line",
    () =>
      Effect.gen(function*() {
        const env = yield* backendEnv("pglite")
        const key = `cpk_${"a".repeat(16)}_${"b".repeat(43)}`
        const printed = yield* cliInProcess(["key", "auth-json"], { ...env, CODEX_POOLER_API_KEY: key })
        expect(printed.code, printed.stderr).toBe(0)
        const auth = JSON.parse(printed.stdout)
        expect(auth).toMatchObject({ auth_mode: "chatgpt", tokens: { account_id: "codex-pooler" } })
        const claims = JSON.parse(Buffer.from(auth.tokens.access_token.split(".")[1], "base64url").toString("utf8"))
        expect(claims.codex_pooler_key).toBe(key)
        const notAKey = yield* cliInProcess(["key", "auth-json"], {
          ...env,
          CODEX_POOLER_API_KEY: "cpo_operator token"
        })
        expect(notAKey).toEqual({
          code: 1,
          stdout: "",
          stderr: "codex-pooler: CODEX_POOLER_API_KEY is not a Pool key (cpk_…)\n"
        })
        const missing = yield* cliInProcess(["key", "auth-json"], env)
        expect(missing).toEqual({
          code: 1,
          stdout: "",
          stderr: "codex-pooler: set CODEX_POOLER_API_KEY to the Pool key (cpk_…)\n"
        })
      }),
    { timeout: 60_000 }
  )
})

describe.each(backends)("operator CLI on %s", (backend) => {
  it.scoped(
    "pool → account → key → list round trip; secrets reach stdout once and nothing else",
    () =>
      Effect.gen(function*() {
        const env = { ...(yield* backendEnv(backend)), LOG_LEVEL: "all" }
        const run = (...args: Array<string>) => cliInProcess(args, env)
        const auth = makeAuthJson({ email: "lead@example.com", plan: "pro" })
        const authFile = yield* writeAuthFile(auth)
        const logs: Array<string> = []
        const ok = (result: CliResult) => {
          logs.push(result.stderr)
          expect(result, result.stderr).toMatchObject({ code: 0 })
          return result
        }

        expect(ok(yield* run("pool", "create", "team-x", "--name", "Team X", "--strategy", "round_robin")).stdout)
          .toContain("created pool team-x")
        expect(ok(yield* run("account", "import", "--pool", "team-x", authFile)).stdout).toContain("imported account")
        expect(ok(yield* run("account", "import", "--pool", "team-x", authFile)).stdout).toContain("updated account")
        const key = lastLine(
          ok(yield* run("key", "create", "--pool", "team-x", "--name", "laptop", "--expires", "30d"))
        )
        expect(key).toMatch(/^cpk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)
        const keyJson = JSON.parse(
          ok(
            yield* run(
              "key",
              "create",
              "--pool",
              "team-x",
              "--json",
              "--rpm",
              "60",
              "--tokens-per-day",
              "100000",
              "--max-concurrent",
              "4",
              "--models",
              "gpt-5.5, gpt-5.4"
            )
          ).stdout
        )
        expect(keyJson.token).toMatch(/^cpk_/)
        expect(keyJson.key).toMatchObject({
          requestsPerMinute: 60,
          tokensPerDay: 100000,
          maxConcurrent: 4,
          allowedModels: ["gpt-5.5", "gpt-5.4"]
        })
        const operator = lastLine(ok(yield* run("operator-token", "create", "--scope", "admin")))
        expect(operator).toMatch(/^cpo_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)

        const listings = [
          ok(yield* run("pool", "list", "--json")),
          ok(yield* run("account", "list", "--json")),
          ok(yield* run("key", "list", "--json")),
          ok(yield* run("operator-token", "list", "--json")),
          ok(yield* run("key", "list"))
        ]
        const [pools, accounts, keys] = listings.map((result) =>
          JSON.parse(result.stdout.startsWith("[") ? result.stdout : "[]")
        )
        expect(pools).toMatchObject([{ slug: "team-x", name: "Team X", strategy: "round_robin", accounts: 1, keys: 2 }])
        expect(accounts).toMatchObject([{
          email: "lead@example.com",
          plan: "pro",
          status: "active",
          pools: ["team-x"]
        }])
        expect(keys.map((row: { name: string }) => row.name).sort()).toEqual(["laptop", "team-x-key"])

        const secrets = [
          key,
          key.slice(-43),
          keyJson.token.slice(-43),
          operator.slice(-43),
          auth.tokens.access_token,
          auth.tokens.refresh_token,
          auth.tokens.id_token
        ]
        const listed = listings.map((result) => result.stdout).join("\n")
        // The log lines were captured (LOG_LEVEL=all logs the migrations), so their checks below are not vacuous.
        expect(logs.join("\n")).toContain("Running migration")
        const database = yield* dumpDatabase(env)
        expect(database).toContain("lead@example.com")
        for (const secret of secrets) {
          expect(listed).not.toContain(secret)
          expect(logs.join("\n")).not.toContain(secret)
          expect(database).not.toContain(secret)
        }
        if (env.CODEX_POOLER_DATA_DIR !== undefined) {
          const raw = filesUnder(env.CODEX_POOLER_DATA_DIR).map((file) => fs.readFileSync(file))
          expect(raw.some((bytes) => bytes.includes("lead@example.com"))).toBe(true)
          for (const secret of secrets) expect(raw.some((bytes) => bytes.includes(secret))).toBe(false)
        }
      }),
    { timeout: 120_000 }
  )

  it.scoped("bad input exits non-zero with one clear line and writes nothing", () =>
    Effect.gen(function*() {
      const env = yield* backendEnv(backend)
      const run = (...args: Array<string>) => cliInProcess(args, env)
      const dir = yield* tempDir("bad")
      const authFile = path.join(dir, "auth.json")
      fs.writeFileSync(authFile, JSON.stringify(makeAuthJson()))
      const broken = path.join(dir, "broken.json")
      fs.writeFileSync(broken, JSON.stringify({ tokens: { access_token: "x" } }))
      expect((yield* run("pool", "create", "solo")).code).toBe(0)

      const failures = [
        [yield* run("pool", "create", "solo"), /^codex-pooler: a pool with slug "solo" already exists$/],
        [yield* run("pool", "create", "Not A Slug"), /^codex-pooler: pool slug "Not A Slug" must be/],
        [yield* run("account", "import", "--pool", "ghost", authFile), /^codex-pooler: no pool with slug "ghost"$/],
        [yield* run("account", "import", "--pool", "solo", broken), /^codex-pooler: auth.json has no ChatGPT tokens: /],
        [
          yield* run("account", "import", "--pool", "solo", path.join(dir, "missing.json")),
          /^codex-pooler: cannot read /
        ],
        [yield* run("account", "pause", "acct_unknown"), /^codex-pooler: no account with id "acct_unknown"$/],
        [yield* run("key", "create", "--pool", "ghost"), /^codex-pooler: no pool with slug "ghost"$/],
        [yield* run("key", "create", "--pool", "solo", "--expires", "soon"), /^codex-pooler: "soon" is not a duration/],
        [yield* run("key", "revoke", "0000000000000000"), /^codex-pooler: no key with id "0000000000000000"$/],
        [
          yield* run("key", "create", "--pool", "solo", "--rpm", "0"),
          /^codex-pooler: --rpm must be a whole number from 1 to 1000000$/
        ],
        [
          yield* run("key", "create", "--pool", "solo", "--max-concurrent", "99999999999"),
          /^codex-pooler: --max-concurrent must be a whole number from 1 to 10000$/
        ],
        [yield* run("operator-token", "revoke", "nope"), /^codex-pooler: no operator token with id "nope"$/]
      ] as const
      for (const [result, line] of failures) {
        expect(result.code).toBe(1)
        expect(result.stderr.trimEnd().split("\n")).toHaveLength(1)
        expect(result.stderr.trimEnd()).toMatch(line)
      }
      const state = yield* Effect.all([
        run("pool", "list", "--json"),
        run("account", "list", "--json"),
        run("key", "list", "--json")
      ])
      expect(state.map((result) => JSON.parse(result.stdout).length)).toEqual([1, 0, 0])
    }), { timeout: 120_000 })
})
