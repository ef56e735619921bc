import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Accounts } from "../src/Accounts.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { Pools } from "../src/Pools.ts"
import { MigratedSqlLive } from "../src/Sql.ts"
import { backends, configFrom } from "./support/Databases.ts"
import { fakeBackendEnv } from "./support/Gateway.ts"
import { codexHeaders, responsesBody, send } from "./support/Requests.ts"
import { type RunningGateway, startGateway } from "./support/Serve.ts"
import { ManagementServices } from "./support/Services.ts"

const noticeLine = /routing view reloaded on a change notice/g

// Lines of a gateway's output saying its routing view took in a change notice.
const notices = (gateway: RunningGateway) => gateway.output().match(noticeLine)?.length ?? 0

// Until `gateway` reloads on a change notice it had not taken in at `seen`: an event, whatever the time it takes.
const nextNotice = (gateway: RunningGateway, seen: number) =>
  gateway.printed(new RegExp(`(?:[^]*?${noticeLine.source}){${seen + 1}}`))

// Three `serve` processes on one PostgreSQL, with the periodic reload far away: what one of them changes reaches the
// others only by the database's change notice.
if (backends.includes("postgres")) {
  describe("three gateway processes on one PostgreSQL", () => {
    it.scopedLive(
      "a rest set through one is honoured by the others once its notice arrives; a turn follows its account",
      () =>
        Effect.gen(function*() {
          const { env: backend, fake } = yield* fakeBackendEnv("postgres")
          const env = {
            ...backend,
            CODEX_POOLER_ROUTING_RELOAD_MS: "600000",
            LOG_LEVEL: "debug"
          }
          const [a, b, c] = [fake.addAccount(), fake.addAccount(), fake.addAccount()]
          const admin = ManagementServices.pipe(Layer.provideMerge(MigratedSqlLive), Layer.provide(configFrom(env)))
          const key = yield* Effect.gen(function*() {
            yield* (yield* Pools).create({ slug: "team", strategy: "least_recently_used" })
            const accounts = yield* Accounts
            const ids = yield* Effect.forEach([a, b, c], (account) =>
              Effect.map(
                accounts.importAuthJson("team", JSON.stringify(fake.authJson(account.accountId))),
                (imported) => imported.account.id
              ))
            // In line at every instance's start: a, then b, then c.
            const sql = yield* SqlClient.SqlClient
            yield* sql`UPDATE accounts SET last_used_at = CASE id
            WHEN ${ids[0] ?? ""} THEN NULL WHEN ${ids[1] ?? ""} THEN now() - interval '1 hour' ELSE now() END`
            return (yield* (yield* PoolKeys).create({ poolSlug: "team" })).token
          }).pipe(Effect.provide(admin))
          const [one, two, three] = yield* Effect.all([startGateway(env), startGateway(env), startGateway(env)], {
            concurrency: "unbounded"
          })
          const call = (gateway: RunningGateway, thread: string, turnState?: string) =>
            send(`${gateway.url}/backend-api/codex/responses`, {
              method: "POST",
              headers: {
                ...codexHeaders(key, thread),
                ...(turnState === undefined ? {} : { "x-codex-turn-state": turnState })
              },
              body: JSON.stringify(responsesBody())
            })
          const asked = () => fake.requests.map((request) => request.accountId)

          // Through the first: a is at its usage limit, rests, and the turn moves to b.
          const seen = [notices(two), notices(three)] as const
          fake.fault(a.accountId, { kind: "usage_limit", resetsInSeconds: 1800 })
          const first = yield* call(one, "01a216ab-0000-7000-8000-00000000000a")
          expect(first.status).toBe(200)
          expect(asked()).toEqual([a.accountId, b.accountId])
          const turnState = first.headers.get("x-codex-turn-state") ?? ""
          expect(turnState).not.toEqual("")

          // The others hear of the rest and pass a over, though it is still first in their line.
          yield* Effect.all([nextNotice(two, seen[0]), nextNotice(three, seen[1])])
          for (const [gateway, thread] of [[two, "b"], [three, "c"]] as const) {
            fake.reset()
            expect((yield* call(gateway, `01a216ab-0000-7000-8000-00000000000${thread}`)).status).toBe(200)
            expect(asked()).toEqual([b.accountId])
          }

          // The third instance's next new thread goes to c (it just used b), but the turn's follow-up goes to b, its
          // account, which only the first instance bound.
          fake.reset()
          expect((yield* call(three, "01a216ab-0000-7000-8000-00000000000d")).status).toBe(200)
          expect((yield* call(three, "01a216ab-0000-7000-8000-00000000000e", turnState)).status).toBe(200)
          expect(asked()).toEqual([c.accountId, b.accountId])
        }),
      { timeout: 120_000 }
    )
  })
}
