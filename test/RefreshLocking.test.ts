import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { AccountCredentials, type UpstreamCredential } from "../src/AccountCredentials.ts"
import { Accounts } from "../src/Accounts.ts"
import { Pools } from "../src/Pools.ts"
import { MigratedSqlLive } from "../src/Sql.ts"
import { type AuthGate, authGate } from "./support/AuthGate.ts"
import { jwt, makeAuthJson } from "./support/AuthJson.ts"
import { backendEnv, backends, configFrom } from "./support/Databases.ts"
import { Fake, firstInLine, gatewayLayer, postResponses, setupPool } from "./support/Gateway.ts"
import { ManagementServices } from "./support/Services.ts"

class Gate extends Context.Tag("test/Gate")<Gate, AuthGate>() {}
class Env extends Context.Tag("test/Env")<Env, Record<string, string>>() {}

// A bound only: what is awaited here is answered at once unless something waits for the stalled refresh.
const bound = "10 seconds"

const gateway = (backend: (typeof backends)[number]) =>
  Layer.unwrapScoped(
    Effect.map(authGate, (gate) =>
      gatewayLayer(backend, { CODEX_POOLER_AUTH_URL: gate.url }).pipe(Layer.merge(Layer.succeed(Gate, gate))))
  )

const services = (backend: (typeof backends)[number]) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const gate = yield* authGate
    const env = { ...(yield* backendEnv(backend)), CODEX_POOLER_AUTH_URL: gate.url }
    return Layer.mergeAll(AccountCredentials.Default, ManagementServices).pipe(
      Layer.provideMerge(MigratedSqlLive),
      Layer.provide(configFrom(env)),
      Layer.merge(Layer.succeed(Gate, gate)),
      Layer.merge(Layer.succeed(Env, env))
    )
  }))

// Another gateway instance on the same database: its own cache and single flight.
const instance = Effect.gen(function*() {
  const built = yield* Layer.build(AccountCredentials.Default.pipe(Layer.provide(configFrom(yield* Env))))
  return Context.get(built, AccountCredentials)
})

const token = (credential: UpstreamCredential) => Redacted.value(credential.accessToken)

describe.each(backends)("refresh locking on %s", (backend) => {
  layer(gateway(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("while one account's refresh is stalled at the auth server, the Pool's other account serves", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const gate = yield* Gate
        const sql = yield* SqlClient.SqlClient
        gate.forwardTo(fake.authUrl)
        const pool = yield* setupPool(2)
        const [stalled, other] = [pool.accounts[0]!, pool.accounts[1]!]
        yield* firstInLine(pool)
        yield* sql`UPDATE accounts SET access_expires_at = now() WHERE id = ${stalled.id}`
        fake.reset()
        gate.hold()
        const before = gate.received.length
        const first = yield* Effect.fork(postResponses(pool.key, "thread-stalled"))
        yield* Effect.promise(() => gate.arrived(before + 1))

        // The stalled account would be next in line for the second of these; it must not be waited for.
        for (const thread of ["thread-other-1", "thread-other-2"]) {
          const served = yield* postResponses(pool.key, thread).pipe(Effect.timeout(bound))
          expect(served.status).toBe(200)
        }
        expect(fake.requests.map((request) => request.accountId)).toEqual([other.fake.accountId, other.fake.accountId])
        expect(gate.received).toHaveLength(before + 1)

        gate.release()
        const answer = yield* Fiber.join(first)
        expect(answer.status).toBe(200)
        expect(fake.requests.at(-1)?.accountId).toBe(stalled.fake.accountId)
        expect(gate.received).toHaveLength(before + 1)
        const [row] = yield* sql`SELECT credentials_version, refresh_lease_until FROM accounts WHERE id = ${stalled.id}`
        expect(row).toEqual({ credentialsVersion: 2, refreshLeaseUntil: null })
      }))
  })

  layer(services(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    const stalledRefresh = Effect.fnUntraced(function*() {
      const gate = yield* Gate
      const accounts = yield* Accounts
      const credentials = yield* AccountCredentials
      const pool = yield* (yield* Pools).create({ slug: `pool-${randomBytes(4).toString("hex")}` })
      const identity = { accountId: `acc-${randomBytes(4).toString("hex")}`, userId: "user-1" }
      const original = makeAuthJson({ ...identity, exp: Math.floor(Date.now() / 1000) + 60 })
      const { account } = yield* accounts.importAuthJson(pool.slug, JSON.stringify(original))
      const refreshed = {
        access_token: jwt({ exp: 1_900_000_000, nonce: randomBytes(8).toString("hex") }),
        refresh_token: `rt_${randomBytes(8).toString("hex")}`
      }
      gate.answerWith({ status: 200, body: JSON.stringify(refreshed) })
      gate.hold()
      const before = gate.received.length
      const refreshing = yield* Effect.fork(credentials.get(account.id))
      yield* Effect.promise(() => gate.arrived(before + 1))
      expect(gate.received.at(-1)).toMatchObject({ refresh_token: original.tokens.refresh_token })
      const reimport = (authJson: unknown) =>
        accounts.importAuthJson(pool.slug, JSON.stringify(authJson)).pipe(Effect.timeout(bound))
      return { gate, credentials, account, identity, original, refreshed, refreshing, reimport } as const
    })

    // What a refresh would redeem next: the refresh token stored now.
    const nextRedeemed = Effect.fnUntraced(function*(accountId: string, version: number) {
      const gate = yield* Gate
      const credentials = yield* AccountCredentials
      gate.answerWith({ status: 200, body: JSON.stringify({ access_token: jwt({ exp: 1_900_000_000 }) }) })
      yield* credentials.refreshAfterUnauthorized(accountId, version)
      return gate.received.at(-1)
    })

    it.effect("an auth.json re-imported while a refresh is in flight is not overwritten by the refresh's save", () =>
      Effect.gen(function*() {
        const { account, credentials, gate, identity, refreshed, refreshing, reimport } = yield* stalledRefresh()
        const newer = makeAuthJson({ ...identity, exp: 1_900_000_000 })
        yield* reimport(newer)
        gate.release()
        const served = yield* Fiber.join(refreshing)
        expect(token(served)).toBe(newer.tokens.access_token)
        expect(token(served)).not.toBe(refreshed.access_token)
        expect(token(yield* credentials.get(account.id))).toBe(newer.tokens.access_token)
        const redeemed = yield* nextRedeemed(account.id, served.version)
        expect(redeemed).toMatchObject({ refresh_token: newer.tokens.refresh_token })
      }))

    it.effect("a re-import carrying the refresh token being redeemed gives way to the rotated one", () =>
      Effect.gen(function*() {
        const { account, gate, original, refreshed, refreshing, reimport } = yield* stalledRefresh()
        yield* reimport(original)
        gate.release()
        const served = yield* Fiber.join(refreshing)
        expect(token(served)).toBe(refreshed.access_token)
        expect(served.version).toBe(3)
        const redeemed = yield* nextRedeemed(account.id, served.version)
        expect(redeemed).toMatchObject({ refresh_token: refreshed.refresh_token })
      }))

    it.effect("a lease left behind by a stopped instance is taken over once it runs out", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const gate = yield* Gate
        const accounts = yield* Accounts
        const credentials = yield* AccountCredentials
        const pool = yield* (yield* Pools).create({ slug: `pool-${randomBytes(4).toString("hex")}` })
        const { account } = yield* accounts.importAuthJson(pool.slug, JSON.stringify(makeAuthJson()))
        yield* sql`UPDATE accounts SET refresh_lease_id = 'gone', refresh_lease_until = now() + interval '1 second'
          WHERE id = ${account.id}`
        const access = jwt({ exp: 1_900_000_000, nonce: randomBytes(8).toString("hex") })
        gate.answerWith({ status: 200, body: JSON.stringify({ access_token: access }) })
        const refreshed = yield* credentials.refreshAfterUnauthorized(account.id, 1).pipe(Effect.timeout(bound))
        expect([token(refreshed), refreshed.version]).toEqual([access, 2])
        const [row] = yield* sql`SELECT refresh_lease_id FROM accounts WHERE id = ${account.id}`
        expect(row).toEqual({ refreshLeaseId: null })
      }))

    if (backend === "postgres") {
      it.effect("another instance waits for the lease holder's result instead of redeeming the token again", () =>
        Effect.gen(function*() {
          const { account, gate, original, refreshed, refreshing } = yield* stalledRefresh()
          const other = yield* instance
          const waiting = yield* Effect.fork(other.refreshAfterUnauthorized(account.id, 1))
          // Time for the other instance to find the lease taken; it is also right if it only starts after release.
          yield* Effect.sleep("300 millis")
          gate.release()
          const [first, second] = [yield* Fiber.join(refreshing), yield* Fiber.join(waiting)]
          expect([token(first), token(second)]).toEqual([refreshed.access_token, refreshed.access_token])
          const redeemed = gate.received.filter((body) => JSON.stringify(body).includes(original.tokens.refresh_token))
          expect(redeemed).toHaveLength(1)
        }).pipe(Effect.scoped))
    }
  })
})
