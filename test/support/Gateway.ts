import { HttpServer } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { Accounts } from "../../src/Accounts.ts"
import type { Strategy } from "../../src/Domain/Models.ts"
import { Instances } from "../../src/Instances.ts"
import { PoolKeys } from "../../src/PoolKeys.ts"
import { Pools } from "../../src/Pools.ts"
import { Quota } from "../../src/Quota.ts"
import { RoutingView } from "../../src/RoutingView.ts"
import { ServerLive } from "../../src/Server.ts"
import { MigratedSqlLive } from "../../src/Sql.ts"
import {
  type FakeAccount,
  type FakeAccountInit,
  type FakeUpstream,
  startFakeUpstream
} from "../FakeUpstream/FakeUpstream.ts"
import { type Backend, backendEnv, configFrom } from "./Databases.ts"
import { codexHeaders, responsesBody, send } from "./Requests.ts"
import { ManagementServices } from "./Services.ts"

export class Fake extends Context.Tag("test/Fake")<Fake, FakeUpstream>() {}

const FakeLive = Layer.scoped(
  Fake,
  Effect.acquireRelease(Effect.promise(() => startFakeUpstream()), (fake) => Effect.promise(() => fake.close()))
)

// The real gateway (router, upstream client, storage) in process on an ephemeral port, against the fake backend.
export const gatewayLayer = (backend: Backend, env: Record<string, string> = {}) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const fake = yield* Fake
    const config = {
      ...(yield* backendEnv(backend)),
      CODEX_POOLER_UPSTREAM_URL: fake.url,
      CODEX_POOLER_AUTH_URL: fake.authUrl,
      CODEX_POOLER_REALTIME_URL: fake.realtimeUrl,
      PORT: "0",
      LOG_LEVEL: "warn",
      // The usage poll's requests would land among the ones a test counts; its own tests turn it on.
      CODEX_POOLER_USAGE_POLL_SECONDS: "0",
      ...env
    }
    return Layer.mergeAll(ServerLive, ManagementServices, Quota.Default, Instances.Default, RoutingView.Default).pipe(
      Layer.provideMerge(MigratedSqlLive),
      Layer.provide(configFrom(config))
    )
  })).pipe(Layer.provideMerge(FakeLive))

// A fake backend for the scope, and the environment that points a gateway or the CLI on `backend` at it.
export const fakeBackendEnv = (backend: Backend) =>
  Effect.gen(function*() {
    const fake = yield* Effect.acquireRelease(
      Effect.promise(() => startFakeUpstream()),
      (fake) => Effect.promise(() => fake.close())
    )
    const env: Record<string, string> = {
      ...(yield* backendEnv(backend)),
      CODEX_POOLER_UPSTREAM_URL: fake.url,
      CODEX_POOLER_AUTH_URL: fake.authUrl
    }
    return { fake, env } as const
  })

// Another gateway instance in this process, on its own memo map (its own caches, pools and selection state), as a
// separate process would be; stopped with the scope. Answers its origin.
export const gatewayInstance = (config: Layer.Layer<never>) =>
  Layer.build(
    Layer.merge(ServerLive, RoutingView.Default).pipe(Layer.provideMerge(MigratedSqlLive), Layer.provide(config))
  ).pipe(
    Effect.map((context) => {
      const address = Context.get(context, HttpServer.HttpServer).address
      const origin = `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}`
      viewsByOrigin.set(origin, Context.get(context, RoutingView))
      return origin
    })
  )

// Each in-process instance's routing view, by origin.
const viewsByOrigin = new Map<string, RoutingView>()

const viewAt = (origin: string) =>
  Effect.suspend(() => {
    const view = viewsByOrigin.get(origin)
    return view === undefined ? Effect.dieMessage(`no gateway instance at ${origin}`) : Effect.succeed(view)
  })

// Has the instance at `origin` reload its routing view now, for what a test wrote that announces nothing.
export const reloadRouting = (origin: string) => Effect.flatMap(viewAt(origin), (view) => view.refresh)

// A fake backend and a fresh PostgreSQL database that several gateway instances (`instance`) can share, plus the
// management services on that database (`manage`), reached through `databasePort` when given (a relay). For the
// tests of what instances share; everything stops with the scope.
export const sharedPostgres = (env: Record<string, string>, options: { readonly databasePort?: number } = {}) =>
  Effect.gen(function*() {
    const fake = yield* Effect.acquireRelease(
      Effect.promise(() => startFakeUpstream()),
      (fake) => Effect.promise(() => fake.close())
    )
    const database = yield* backendEnv("postgres")
    const url = new URL(database.DATABASE_URL ?? "")
    if (options.databasePort !== undefined) url.port = String(options.databasePort)
    const config = configFrom({
      ...database,
      DATABASE_URL: url.toString(),
      CODEX_POOLER_UPSTREAM_URL: fake.url,
      CODEX_POOLER_AUTH_URL: fake.authUrl,
      CODEX_POOLER_REALTIME_URL: fake.realtimeUrl,
      CODEX_POOLER_USAGE_POLL_SECONDS: "0",
      LOG_LEVEL: "warn",
      PORT: "0",
      ...env
    })
    const admin = yield* Layer.build(
      ManagementServices.pipe(Layer.provideMerge(MigratedSqlLive), Layer.provide(config))
    )
    const manage = <A, E>(
      effect: Effect.Effect<A, E, Layer.Layer.Success<typeof ManagementServices> | SqlClient.SqlClient>
    ) => Effect.provide(effect, admin)
    return { fake, instance: gatewayInstance(config), manage } as const
  })

export const gatewayUrl = Effect.map(
  HttpServer.HttpServer,
  (server) => server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : ""
)

export interface TestPool {
  readonly slug: string
  readonly poolId: string
  readonly key: string
  readonly accounts: ReadonlyArray<{ readonly fake: FakeAccount; readonly id: string }>
}

// A fresh Pool with `count` fake accounts imported from their auth.json, and a key for it.
export const setupPool = (count: number, init: FakeAccountInit = {}, strategy: Strategy = "least_recently_used") =>
  Effect.gen(function*() {
    const fake = yield* Fake
    const slug = `pool-${randomBytes(4).toString("hex")}`
    const pool = yield* (yield* Pools).create({ slug, strategy })
    const accounts = yield* Effect.forEach(Array.from({ length: count }), () =>
      Effect.gen(function*() {
        const account = fake.addAccount(init)
        const imported = yield* (yield* Accounts).importAuthJson(slug, JSON.stringify(fake.authJson(account.accountId)))
        return { fake: account, id: imported.account.id }
      }))
    const { token } = yield* (yield* PoolKeys).create({ poolSlug: slug })
    return { slug, poolId: pool.id, key: token, accounts } satisfies TestPool
  })

// One Codex turn over HTTP to the in-process gateway, as `thread`.
export const postResponses = (key: string, thread?: string) =>
  Effect.flatMap(gatewayUrl, (url) =>
    send(`${url}/backend-api/codex/responses`, {
      method: "POST",
      headers: codexHeaders(key, thread),
      body: JSON.stringify(responsesBody())
    }))

// For a test that wrote routing state (accounts, health, quota) itself: the in-process gateway's routing view reads
// it again before the call returns, as it would on the change notice or its next reload.
export const routingReloaded = Effect.flatMap(RoutingView, (view) => view.refresh)

// Writes `change` to the database with this instance's last-used times written first (so none lands on top of it
// later), and reloads the routing view.
export const rewriteRouting = <A, E, R>(change: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const view = yield* RoutingView
    yield* view.writeUsed
    const result = yield* change
    yield* view.refresh
    return result
  })

// Makes the Pool's first account the least recently used, so it is tried first, and its second the most recent.
export const firstInLine = (pool: TestPool) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    rewriteRouting(Effect.all([
      sql`UPDATE accounts SET last_used_at = NULL WHERE id = ${pool.accounts[0]!.id}`,
      sql`UPDATE accounts SET last_used_at = now() WHERE id = ${pool.accounts[1]!.id}`
    ])))

// A new turn with the Pool's first account first in line: its status, and the accounts upstream saw, in order.
export const turnInLine = (pool: TestPool, thread: string) =>
  Effect.gen(function*() {
    const fake = yield* Fake
    yield* firstInLine(pool)
    fake.reset()
    const answer = yield* postResponses(pool.key, thread)
    return { status: answer.status, accounts: fake.requests.map((request) => request.accountId) }
  })
