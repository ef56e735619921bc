import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { Pools } from "../src/Pools.ts"
import type { FakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import { makeAuthJson } from "./support/AuthJson.ts"
import { cliInProcess } from "./support/CliInProcess.ts"
import { codexExec, responsesCalls } from "./support/Codex.ts"
import { backendEnv, backends, tempDir } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, setupPool, sharedPostgres } from "./support/Gateway.ts"
import { callTool, connectMcp, connectMcpAt } from "./support/Mcp.ts"

const adminClient = Effect.gen(function*() {
  const { token } = yield* Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope: "admin" }))
  return yield* connectMcp(token)
})

// What the browser does between the authorize address and the callback: the fake signs its queued user in and
// redirects to Codex's callback, whose address is what the operator pastes back.
const browserEndsOn = (authorizeUrl: string) =>
  Effect.promise(async () => {
    const answer = await fetch(authorizeUrl, { redirect: "manual" })
    return answer.headers.get("location") ?? ""
  })

const startBrowser = (client: Client, args: Record<string, unknown>) =>
  Effect.map(
    callTool(client, "start_account_login", { ...args, method: "browser" }),
    (started) => started.structured as { signInId: string; authorizeUrl: string }
  )

const accountRow = (chatgptAccountId: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ id: string; status: string; credentialsVersion: number; refreshTokenEnc: string }>`
      SELECT id, status, credentials_version, refresh_token_enc FROM accounts
      WHERE chatgpt_account_id = ${chatgptAccountId}`
  )

const okExchanges = (fake: FakeUpstream) => fake.codeExchanges.filter((exchange) => exchange.ok)

describe.each(backends)("accounts signed in through the gateway on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.scoped("by device code through MCP: pending until the code is entered, then in its Pool, serving a real Codex exec on a lineage of its own", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(0)
        const owner = fake.addAccount({ email: "owner@example.com" })
        const client = yield* adminClient
        const started = yield* callTool(client, "start_account_login", { pool: pool.slug, method: "device" })
        expect(started.isError, started.text).toBe(false)
        const { signInId, userCode, verificationUrl } = started.structured as {
          signInId: string
          userCode: string
          verificationUrl: string
        }
        expect(verificationUrl).toBe(`${fake.authUrl}/codex/device`)
        expect(fake.deviceCodes().map((code) => code.userCode)).toEqual([userCode])
        const pending = yield* callTool(client, "finish_account_login", { signInId })
        expect(pending.structured).toMatchObject({ status: "pending" })
        fake.approveDevice(userCode, owner.accountId)
        const done = yield* callTool(client, "finish_account_login", { signInId })
        expect(done.isError, done.text).toBe(false)
        expect(done.structured).toMatchObject({
          status: "done",
          account: { email: "o***@example.com", status: "active", pools: [pool.slug] }
        })
        expect(okExchanges(fake)).toHaveLength(1)
        // asked again, the finished sign-in answers the same, exchanging nothing
        expect((yield* callTool(client, "finish_account_login", { signInId })).structured).toMatchObject({
          status: "done"
        })
        expect(okExchanges(fake)).toHaveLength(1)
        const [row] = yield* sql<{ status: string; stateHash: string | null; secretEnc: string }>`
          SELECT status, state_hash, secret_enc FROM sign_ins WHERE id = ${signInId}`
        expect(row?.status).toBe("done")
        expect(row?.secretEnc).not.toContain("deviceauth")
        const audit = yield* sql<
          { actorKind: string }
        >`SELECT actor_kind FROM audit_log WHERE action = 'account.sign_in'`
        expect(audit.map((entry) => entry.actorKind)).toContain("operator_token")

        fake.reset()
        const run = yield* Effect.flatMap(
          gatewayUrl,
          (origin) => codexExec({ origin, key: pool.key, prompt: "say hi", transport: "http" })
        )
        expect(run.code, run.stderr).toBe(0)
        const calls = responsesCalls(fake.requests)
        expect(calls.map((call) => call.accountId)).toEqual([owner.accountId])
        // the gateway's own lineage: not the tokens of the owner's other sign-in
        expect(calls[0]?.headers["authorization"]).not.toBe(`Bearer ${owner.accessToken}`)
      }))

    it.scoped("in a browser: finished by the address the browser ended on, its code exchanged once however many finish it", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(0)
        const owner = fake.addAccount()
        const client = yield* adminClient
        const started = yield* startBrowser(client, { pool: pool.slug })
        const authorize = new URL(started.authorizeUrl)
        expect(authorize.searchParams.get("code_challenge_method")).toBe("S256")
        expect(authorize.searchParams.get("redirect_uri")).toBe("http://localhost:1455/auth/callback")
        fake.nextSignIn(owner.accountId)
        const callbackUrl = yield* browserEndsOn(started.authorizeUrl)
        expect(callbackUrl).toMatch(/^http:\/\/localhost:1455\/auth\/callback\?code=/)
        const finishes = yield* Effect.all(
          Array.from({ length: 3 }, () => callTool(client, "finish_account_login", { callbackUrl })),
          { concurrency: "unbounded" }
        )
        const ids = finishes.map((finish) => (finish.structured as { account?: { id: string } }).account?.id)
        expect(new Set(ids).size, JSON.stringify(finishes)).toBe(1)
        expect(ids[0]).toMatch(/^acct_/)
        expect(okExchanges(fake)).toHaveLength(1)
      }))

    it.scoped("a sign-in again takes only that account's own seat: another user's writes nothing; its own ends reauth_required", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(1)
        const seat = pool.accounts[0]!
        const stranger = fake.addAccount({ email: "stranger@example.com" })
        yield* sql`UPDATE accounts SET status = 'reauth_required' WHERE id = ${seat.id}`
        const [before] = yield* accountRow(seat.fake.accountId)
        const client = yield* adminClient

        const wrong = yield* startBrowser(client, { accountId: seat.id })
        fake.nextSignIn(stranger.accountId)
        const refused = yield* callTool(client, "finish_account_login", {
          callbackUrl: yield* browserEndsOn(wrong.authorizeUrl)
        })
        expect(refused.isError).toBe(true)
        expect(refused.text).toContain(`is not account ${seat.id}'s: nothing was changed`)
        expect(yield* accountRow(seat.fake.accountId)).toEqual([before])
        expect(yield* accountRow(stranger.accountId)).toEqual([])

        const right = yield* startBrowser(client, { accountId: seat.id })
        fake.nextSignIn(seat.fake.accountId)
        const renewed = yield* callTool(client, "finish_account_login", {
          callbackUrl: yield* browserEndsOn(right.authorizeUrl)
        })
        expect(renewed.structured).toMatchObject({ status: "done", account: { id: seat.id, status: "active" } })
        const [after] = yield* accountRow(seat.fake.accountId)
        expect(after?.credentialsVersion).toBe((before?.credentialsVersion ?? 0) + 1)
        expect(after?.refreshTokenEnc).not.toBe(before?.refreshTokenEnc)
      }))

    it.scoped("bad requests are tool errors that start or finish nothing", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(0)
        const client = yield* adminClient
        const [exchanges, deviceCodes] = [fake.codeExchanges.length, fake.deviceCodes().length]
        const both = yield* callTool(client, "start_account_login", {
          pool: pool.slug,
          accountId: "acct_0000000000000000",
          method: "device"
        })
        expect(both.isError).toBe(true)
        expect(both.text).toContain("either a pool")
        expect((yield* callTool(client, "start_account_login", { pool: "no-such-pool", method: "device" })).text)
          .toContain("no pool")
        expect((yield* callTool(client, "finish_account_login", {})).isError).toBe(true)
        expect((yield* callTool(client, "finish_account_login", { signInId: "signin_nope" })).text).toContain(
          "no sign-in signin_nope"
        )
        const stray = yield* callTool(client, "finish_account_login", {
          callbackUrl: "http://localhost:1455/auth/callback?code=x&state=not-ours"
        })
        expect(stray.text).toContain("matches no sign-in")
        expect(fake.codeExchanges).toHaveLength(exchanges)
        expect(fake.deviceCodes()).toHaveLength(deviceCodes)
      }))
  })
})

if (backends.includes("postgres")) {
  describe("a sign-in shared by two gateway instances on one PostgreSQL", () => {
    it.scopedLive(
      "one instance starts it, both race to finish it: the code is exchanged once, both answer the account",
      () =>
        Effect.gen(function*() {
          const { fake, instance, manage } = yield* sharedPostgres({})
          const [first, second] = [yield* instance, yield* instance]
          const slug = `pool-${Date.now().toString(36)}`
          yield* manage(Effect.flatMap(Pools, (pools) => pools.create({ slug })))
          yield* manage(Effect.flatMap(PoolKeys, (keys) => keys.create({ poolSlug: slug })))
          const { token } = yield* manage(Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope: "admin" })))
          const [onFirst, onSecond] = [yield* connectMcpAt(first, token), yield* connectMcpAt(second, token)]
          const owner = fake.addAccount()
          const started = yield* startBrowser(onFirst, { pool: slug })
          fake.nextSignIn(owner.accountId)
          const callbackUrl = yield* browserEndsOn(started.authorizeUrl)
          const [a, b] = yield* Effect.all([
            callTool(onFirst, "finish_account_login", { callbackUrl }),
            callTool(onSecond, "finish_account_login", { callbackUrl })
          ], { concurrency: "unbounded" })
          expect(a.structured, a.text).toMatchObject({ status: "done" })
          expect(b.structured, b.text).toMatchObject({ status: "done" })
          expect((a.structured as { account: { id: string } }).account.id)
            .toBe((b.structured as { account: { id: string } }).account.id)
          expect(okExchanges(fake)).toHaveLength(1)
        }),
      { timeout: 60_000 }
    )
  })
}

describe("the address the browser ended on, pasted back", () => {
  it.effect("each departure from Codex's callback gets its own message", () =>
    Effect.gen(function*() {
      const { parseCallback } = yield* Effect.promise(() => import("../src/SignIns/Browser.ts"))
      const base = "http://localhost:1455/auth/callback"
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["", "nothing was pasted"],
        ["hello", "is not an address"],
        [`https://localhost:1455/auth/callback?code=c&state=s`, "must start with http://"],
        [`http://user:pw@localhost:1455/auth/callback?code=c&state=s`, "user name or password"],
        [`http://example.com:1455/auth/callback?code=c&state=s`, "must be on localhost (it is on example.com)"],
        [`http://localhost:8080/auth/callback?code=c&state=s`, "must be on port 1455 (it is on port 8080)"],
        [`http://localhost:1455/callback?code=c&state=s`, "must end in /auth/callback"],
        [`${base}?code=c`, "exactly one state (it carries 0)"],
        [`${base}?code=c&state=a&state=b`, "exactly one state (it carries 2)"],
        [`${base}?code=c&state=`, "an empty one"],
        [`${base}?code=c&error=x&state=s`, "both a code and an error"],
        [`${base}?code=a&code=b&state=s`, "2 codes"],
        [`${base}?error=a&error=b&state=s`, "2 errors"],
        [`${base}?code=&state=s`, "code is empty"],
        [`${base}?state=s`, "neither a code nor an error"],
        [`${base}?code=${"x".repeat(9000)}&state=s`, "longer than 8192"]
      ]
      const messages = cases.map(([pasted, expected]) => {
        const parsed = parseCallback(pasted)
        expect(parsed._tag, pasted).toBe("Left")
        const message = parsed._tag === "Left" ? parsed.left.message : ""
        expect(message, pasted).toContain(expected)
        return message
      })
      expect(new Set(messages).size).toBe(messages.length)
      expect(parseCallback(`  ${base}?code=c&state=s \n`)).toMatchObject({ _tag: "Right", right: { code: "c" } })
      expect(parseCallback(`http://127.0.0.1:1457/auth/callback?error=access_denied&state=s`))
        .toMatchObject({ _tag: "Right", right: { _tag: "error", error: "access_denied" } })
    }))
})

describe.each(backends)("account import of a folder on %s", (backend) => {
  it.scoped(
    "imports every auth.json in it, reports each, skips the rest saying why, and warns once of the handover",
    () =>
      Effect.gen(function*() {
        const env = yield* backendEnv(backend)
        const dir = yield* tempDir("folder")
        fs.writeFileSync(path.join(dir, "a.json"), JSON.stringify(makeAuthJson({ email: "a@example.com" })))
        fs.writeFileSync(path.join(dir, "b-auth.json"), JSON.stringify(makeAuthJson({ email: "b@example.com" })))
        fs.writeFileSync(path.join(dir, "notes.txt"), "not an auth.json")
        fs.mkdirSync(path.join(dir, "nested"))
        expect((yield* cliInProcess(["pool", "create", "team"], env)).code).toBe(0)
        const result = yield* cliInProcess(["account", "import", "--pool", "team", dir], env)
        expect(result.code, result.stderr).toBe(0)
        const lines = result.stdout.trimEnd().split("\n")
        expect(lines).toHaveLength(3)
        expect(lines[0]).toMatch(/^a\.json: imported account acct_[0-9a-f]{16} {2}a@example\.com/)
        expect(lines[1]).toMatch(/^b-auth\.json: imported account acct_[0-9a-f]{16} {2}b@example\.com/)
        expect(lines[2]).toBe("notes.txt: skipped, auth.json is not valid JSON")
        expect(result.stderr.match(/warning: the imported refresh token now belongs to the pooler/g)).toHaveLength(1)
        const listed = JSON.parse((yield* cliInProcess(["account", "list", "--json"], env)).stdout)
        expect(listed).toHaveLength(2)
        // a folder with nothing importable is a failure, on one line
        const empty = yield* tempDir("empty")
        const none = yield* cliInProcess(["account", "import", "--pool", "team", empty], env)
        expect(none.code).toBe(1)
        expect(none.stderr).toContain(`no auth.json in ${empty} could be imported`)
      }),
    { timeout: 60_000 }
  )
})
