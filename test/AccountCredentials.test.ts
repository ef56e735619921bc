import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { createServer } from "node:http"
import { AccountCredentials, type UpstreamCredential } from "../src/AccountCredentials.ts"
import type { AccountUnavailable } from "../src/AccountCredentials/Errors.ts"
import { permanentRefreshFailure, refreshErrorCode } from "../src/AccountCredentials/RefreshClient.ts"
import { Accounts } from "../src/Accounts.ts"
import { decodeJwtClaims } from "../src/Accounts/AuthJson.ts"
import { Pools } from "../src/Pools.ts"
import { MigratedSqlLive } from "../src/Sql.ts"
import { type FakeAccountInit, type FakeUpstream, startFakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import { postJson } from "./FakeUpstream/TestClient.ts"
import { CLIENT_ID } from "./FakeUpstream/Tokens.ts"
import { type Backend, backendEnv, backends, configFrom } from "./support/Databases.ts"
import { ManagementServices } from "./support/Services.ts"

class Fake extends Context.Tag("test/Fake")<Fake, FakeUpstream>() {}
class Env extends Context.Tag("test/Env")<Env, Record<string, string>>() {}

// The gateway's services on this backend, refreshing tokens at a fake auth server on an ephemeral loopback port.
const suite = (backend: Backend) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const fake = yield* Effect.acquireRelease(Effect.promise(() => startFakeUpstream()), (f) => Effect.promise(f.close))
    const env = { ...(yield* backendEnv(backend)), CODEX_POOLER_AUTH_URL: fake.authUrl }
    return Layer.mergeAll(AccountCredentials.Default, ManagementServices).pipe(
      Layer.provideMerge(MigratedSqlLive),
      Layer.provide(configFrom(env)),
      Layer.merge(Layer.succeed(Fake, fake)),
      Layer.merge(Layer.succeed(Env, env))
    )
  }))

// Another gateway instance on the same database: its own cache and single flight, optionally another auth server.
const instance = (authUrl?: string) =>
  Effect.gen(function*() {
    const env = { ...(yield* Env), ...(authUrl ? { CODEX_POOLER_AUTH_URL: authUrl } : {}) }
    const services = yield* Layer.build(AccountCredentials.Default.pipe(Layer.provide(configFrom(env))))
    return Context.get(services, AccountCredentials)
  })

const setup = Effect.fnUntraced(function*(init: FakeAccountInit = {}) {
  const fake = yield* Fake
  const pool = yield* (yield* Pools).create({ slug: `pool-${randomBytes(4).toString("hex")}` })
  const upstream = fake.addAccount(init)
  const authJson = JSON.stringify(fake.authJson(upstream.accountId))
  const { account } = yield* (yield* Accounts).importAuthJson(pool.slug, authJson)
  const calls = () => fake.refreshCalls.filter((call) => call.accountId === upstream.accountId)
  return { fake, id: account.id, upstreamId: upstream.accountId, imported: upstream, calls }
})

const token = (credential: UpstreamCredential) => Redacted.value(credential.accessToken)

const reason = <R>(effect: Effect.Effect<UpstreamCredential, AccountUnavailable, R>) =>
  Effect.map(Effect.flip(effect), (error) => error.reason)

const accountRow = (id: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`SELECT status, credentials_version, access_expires_at, last_refresh_at FROM accounts WHERE id = ${id}`
  )

const auditRows = (id: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql`SELECT actor_kind, details FROM audit_log WHERE target_id = ${id} AND action = 'account.reauth_required'`
  )

// An auth server answering from a script and recording what it was sent; once closed, it refuses connections.
const stubAuthServer = (answers: Array<{ readonly status: number; readonly body: string }>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const received: Array<{ readonly contentType: string | undefined; readonly body: unknown }> = []
      const server = createServer((req, res) => {
        let text = ""
        req.on("data", (chunk: Buffer) => (text += chunk.toString()))
        req.on("end", () => {
          received.push({ contentType: req.headers["content-type"], body: JSON.parse(text) })
          const answer = answers.shift() ?? { status: 500, body: "" }
          res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body)
        })
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const close = () => new Promise<void>((done) => server.close(() => done()).closeAllConnections())
      return { url: `http://127.0.0.1:${port}`, received, close }
    }),
    (stub) => Effect.promise(stub.close)
  )

describe("refresh error bodies", () => {
  it("reads the code from error.code, an error string or a top-level code; only a 401 is permanent", () => {
    expect(refreshErrorCode({ error: { code: "refresh_token_expired" } })).toEqual(Option.some("refresh_token_expired"))
    expect(refreshErrorCode({ error: "refresh_token_reused" })).toEqual(Option.some("refresh_token_reused"))
    expect(refreshErrorCode({ code: "refresh_token_invalidated" })).toEqual(Option.some("refresh_token_invalidated"))
    expect(refreshErrorCode({ error: { message: "no code" } })).toEqual(Option.none())
    expect(permanentRefreshFailure(401, { error: "refresh_token_reused" })).toEqual(Option.some("refresh_token_reused"))
    expect(permanentRefreshFailure(401, { error: { code: "token_expired" } })).toEqual(Option.none())
    expect(permanentRefreshFailure(500, { error: { code: "refresh_token_expired" } })).toEqual(Option.none())
  })
})

describe.each(backends)("account credentials on %s", (backend) => {
  layer(suite(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("get serves the stored token, and refreshes one expiring within the skew before serving it", () =>
      Effect.gen(function*() {
        const credentials = yield* AccountCredentials
        const steady = yield* setup()
        const credential = yield* credentials.get(steady.id)
        expect(token(credential)).toEqual(steady.imported.accessToken)
        expect(credential).toMatchObject({ accountId: steady.id, chatgptAccountId: steady.upstreamId, version: 1 })
        expect(JSON.stringify(credential)).not.toContain(steady.imported.accessToken)
        expect(token(yield* credentials.get(steady.id))).toEqual(steady.imported.accessToken)
        expect(steady.calls()).toEqual([])

        const expiring = yield* setup({ accessTokenTtlSeconds: 60 })
        const refreshed = yield* credentials.get(expiring.id)
        const current = expiring.fake.account(expiring.upstreamId)
        expect([token(refreshed), refreshed.version]).toEqual([current.accessToken, 2])
        expect(token(refreshed)).not.toEqual(expiring.imported.accessToken)
        const exp = decodeJwtClaims(current.accessToken).pipe(Option.flatMapNullable((claims) => claims.exp))
        expect(refreshed.expiresAt).toEqual(new Date(Option.getOrThrow(exp) * 1000))
        const sent = expiring.calls().map((call) => [call.refreshToken, call.reason, call.outcome])
        expect(sent).toEqual([[expiring.imported.refreshToken, "proactive_expiry", "ok"]])
      }))

    it.effect("20 concurrent 401 recoveries make one refresh call and share its token; a late one reuses it", () =>
      Effect.gen(function*() {
        const credentials = yield* AccountCredentials
        const { calls, fake, id, upstreamId } = yield* setup()
        const stale = yield* credentials.get(id)
        const results = yield* Effect.all(
          Array.from({ length: 20 }, () => credentials.refreshAfterUnauthorized(id, stale.version)),
          { concurrency: "unbounded" }
        )
        const current = fake.account(upstreamId).accessToken
        expect(calls().map((call) => [call.reason, call.outcome])).toEqual([["unauthorized_recovery", "ok"]])
        expect(new Set(results.map(token))).toEqual(new Set([current]))
        expect(new Set(results.map((result) => result.version))).toEqual(new Set([stale.version + 1]))

        const late = yield* credentials.refreshAfterUnauthorized(id, stale.version)
        expect([token(late), late.version]).toEqual([current, stale.version + 1])
        expect(calls()).toHaveLength(1)
      }))

    // Cross-instance exclusion is a PostgreSQL feature (a row lock); embedded PGlite is one process by design.
    if (backend === "postgres") {
      it.effect("two instances on PostgreSQL refresh an account once between them", () =>
        Effect.gen(function*() {
          const { calls, fake, id, upstreamId } = yield* setup()
          const [first, second] = [yield* instance(), yield* instance()]
          const results = yield* Effect.all(
            Array.from({ length: 10 }, (_, n) => (n % 2 === 0 ? first : second).refreshAfterUnauthorized(id, 1)),
            { concurrency: "unbounded" }
          )
          expect(calls().map((call) => call.outcome)).toEqual(["ok"])
          expect(new Set(results.map(token))).toEqual(new Set([fake.account(upstreamId).accessToken]))
        }).pipe(Effect.scoped))
    }

    it.effect("each refresh redeems the rotated refresh token, and no token is ever stored in plaintext", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const credentials = yield* AccountCredentials
        const { calls, fake, id, imported, upstreamId } = yield* setup()
        const first = yield* credentials.refreshAfterUnauthorized(id, 1)
        const rotated = fake.account(upstreamId)
        const second = yield* credentials.refreshAfterUnauthorized(id, first.version)
        const latest = fake.account(upstreamId)
        const redeemed = calls().map((call) => [call.refreshToken, call.outcome])
        expect(redeemed).toEqual([[imported.refreshToken, "ok"], [rotated.refreshToken, "ok"]])
        expect([token(second), second.version]).toEqual([latest.accessToken, 3])
        const [row] = yield* accountRow(id)
        expect(row).toMatchObject({ status: "active", credentialsVersion: 3, accessExpiresAt: second.expiresAt })
        expect(row?.["lastRefreshAt"]).toBeInstanceOf(Date)

        const stored = (yield* sql`SELECT row_to_json(t)::text AS row FROM accounts t
          UNION ALL SELECT row_to_json(a)::text FROM audit_log a`).map((r) => String(r["row"])).join("\n")
        expect(stored).toContain(id)
        for (const account of [imported, rotated, latest]) {
          for (const secret of [account.accessToken, account.refreshToken, account.idToken]) {
            expect(stored).not.toContain(secret)
          }
        }
      }))

    it.effect("a rejected refresh token marks the account reauth_required, audited, and it is no longer served", () =>
      Effect.gen(function*() {
        const credentials = yield* AccountCredentials
        const expired = yield* setup()
        expired.fake.fault(expired.upstreamId, "refresh_token_expired")
        const error = yield* Effect.flip(credentials.refreshAfterUnauthorized(expired.id, 1))
        expect(error).toMatchObject({ _tag: "AccountUnavailable", accountId: expired.id, reason: "reauth_required" })
        expect(error.message).not.toContain(expired.imported.refreshToken)
        expect(yield* accountRow(expired.id)).toMatchObject([{ status: "reauth_required", credentialsVersion: 1 }])
        const details = { code: "refresh_token_expired", refreshReason: "unauthorized_recovery" }
        expect(yield* auditRows(expired.id)).toEqual([{ actorKind: "system", details }])
        const callsBefore = expired.calls().length
        expect(yield* reason(credentials.get(expired.id))).toEqual("not_active")
        expect(yield* reason(credentials.refreshAfterUnauthorized(expired.id, 1))).toEqual("not_active")
        expect(expired.calls()).toHaveLength(callsBefore)

        // Someone else redeemed the refresh token (a copied auth.json): the stored one is now a reused one.
        const reused = yield* setup()
        const body = { client_id: CLIENT_ID, grant_type: "refresh_token", refresh_token: reused.imported.refreshToken }
        const elsewhere = yield* Effect.promise(() => postJson(`${reused.fake.authUrl}/oauth/token`, body))
        expect(elsewhere.status).toEqual(200)
        expect(yield* reason(credentials.refreshAfterUnauthorized(reused.id, 1))).toEqual("reauth_required")
        expect(yield* accountRow(reused.id)).toMatchObject([{ status: "reauth_required" }])
        expect(yield* auditRows(reused.id)).toMatchObject([{ details: { code: "refresh_token_reused" } }])
      }))

    it.effect("a paused account is not served and not refreshed until it is resumed", () =>
      Effect.gen(function*() {
        const credentials = yield* AccountCredentials
        const accounts = yield* Accounts
        const { calls, id, imported } = yield* setup({ accessTokenTtlSeconds: 60 })
        yield* accounts.pause(id)
        expect(yield* reason(credentials.get(id))).toEqual("not_active")
        expect(yield* reason(credentials.refreshAfterUnauthorized(id, 1))).toEqual("not_active")
        expect(calls()).toEqual([])
        yield* accounts.resume(id)
        expect(token(yield* credentials.get(id))).not.toEqual(imported.accessToken)
        expect(calls().map((call) => call.outcome)).toEqual(["ok"])
      }))

    it.effect("an auth server that is down, failing or unreadable leaves the account and its token as they were", () =>
      Effect.gen(function*() {
        const credentials = yield* AccountCredentials
        const { calls, fake, id, imported, upstreamId } = yield* setup()
        const stub = yield* stubAuthServer([
          { status: 500, body: JSON.stringify({ error: { code: "refresh_token_expired" } }) },
          { status: 401, body: JSON.stringify({ error: { code: "token_expired" } }) },
          { status: 200, body: "<html>maintenance</html>" }
        ])
        const failing = yield* instance(stub.url)
        for (let attempt = 0; attempt < 3; attempt++) {
          expect(yield* reason(failing.refreshAfterUnauthorized(id, 1))).toEqual("refresh_failed")
        }
        const body = { client_id: "app_EMoamEEZ73f0CkXaXp7hrann", grant_type: "refresh_token" }
        const sent = { ...body, refresh_token: imported.refreshToken, refresh_reason: "unauthorized_recovery" }
        expect(stub.received).toEqual([1, 2, 3].map(() => ({ contentType: "application/json", body: sent })))
        yield* Effect.promise(stub.close)
        expect(yield* reason((yield* instance(stub.url)).refreshAfterUnauthorized(id, 1))).toEqual("refresh_failed")

        expect(yield* accountRow(id)).toMatchObject([{ status: "active", credentialsVersion: 1 }])
        expect(yield* auditRows(id)).toEqual([])
        expect(calls()).toEqual([])
        const recovered = yield* credentials.refreshAfterUnauthorized(id, 1)
        expect([token(recovered), recovered.version]).toEqual([fake.account(upstreamId).accessToken, 2])
        expect(calls().map((call) => call.outcome)).toEqual(["ok"])
      }).pipe(Effect.scoped))
  })
})
