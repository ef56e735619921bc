import { HttpServer } from "@effect/platform"
import { Context, Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { Accounts } from "../../src/Accounts.ts"
import type { Strategy } from "../../src/Domain/Models.ts"
import { PoolKeys } from "../../src/PoolKeys.ts"
import { Pools } from "../../src/Pools.ts"
import { Quota } from "../../src/Quota.ts"
import { ServerLive } from "../../src/Server.ts"
import { MigratedSqlLive } from "../../src/Sql.ts"
import { type FakeAccount, type FakeAccountInit, type FakeUpstream, startFakeUpstream } from "../FakeUpstream/FakeUpstream.ts"
import { type Backend, backendEnv, configFrom } from "./Databases.ts"
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
      PORT: "0",
      LOG_LEVEL: "warn",
      ...env
    }
    return Layer.mergeAll(ServerLive, ManagementServices, Quota.Default).pipe(Layer.provideMerge(MigratedSqlLive), Layer.provide(configFrom(config)))
  })).pipe(Layer.provideMerge(FakeLive))

export const gatewayUrl = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : "")

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
