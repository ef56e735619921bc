import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { PoolKeys } from "../src/PoolKeys.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, setupPool } from "./support/Gateway.ts"
import { codexHeaders, responsesBody, send } from "./support/Requests.ts"
import { attemptRows, settledRow } from "./support/Rows.ts"

// A write made to fail (or wait) for one Pool's rows only, by a trigger: the session binding, the first write after
// forward, or the attempt row, which forward waits for once the answer has arrived.
const onInsert = (table: "sessions" | "request_attempts", when: string, body: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const name = `test_insert_${randomBytes(4).toString("hex")}`
    yield* sql.unsafe(
      `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${body}; RETURN NEW; END $$`
    )
    yield* sql.unsafe(
      `CREATE TRIGGER ${name} BEFORE INSERT ON ${table} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${name}()`
    )
    return sql.unsafe(`DROP TRIGGER ${name} ON ${table}`).pipe(Effect.orDie)
  }).pipe(Effect.orDie)

const onBind = (poolId: string, body: string) => onInsert("sessions", `NEW.pool_id = '${poolId}'`, body)

const oneAtATime = (slug: string) =>
  Effect.flatMap(PoolKeys, (keys) => keys.create({ poolSlug: slug, limits: { maxConcurrent: 1 } })).pipe(
    Effect.map((created) => created.token)
  )

const turn = (key: string, thread: string) =>
  Effect.flatMap(gatewayUrl, (url) =>
    send(`${url}/backend-api/codex/responses`, {
      method: "POST",
      headers: codexHeaders(key, thread),
      body: JSON.stringify(responsesBody())
    }))

describe.each(backends)("request rows closed on every exit, on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("a database error after forward closes the row and its attempt; a max-concurrent 1 key goes on", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const key = yield* oneAtATime(pool.slug)
        const restore = yield* onBind(pool.poolId, "RAISE EXCEPTION 'injected bind failure'")
        fake.reset()
        const failed = yield* turn(key, "thread-bind-fails")
        expect(fake.requests).toHaveLength(1)
        expect(failed.status).toBeGreaterThanOrEqual(500)
        const sql = yield* SqlClient.SqlClient
        const keyId = (yield* (yield* PoolKeys).verify(key)).id
        const rows = yield* sql`SELECT id FROM requests WHERE key_id = ${keyId}`
        expect(rows).toHaveLength(1)
        const requestId = String(rows[0]!["id"])
        expect(yield* settledRow(requestId)).toMatchObject({
          status: "failed",
          errorCode: "defect",
          accountId: pool.accounts[0]!.id
        })
        expect(yield* attemptRows(requestId)).toMatchObject([{ attempt: 1, outcome: "failed" }])
        yield* restore
        const next = yield* turn(key, "thread-after")
        expect(next.status).toBe(200)
        expect(next.text).toContain("response.completed")
      }))

    // PGlite runs in this process: a trigger that sleeps would stall the event loop, not just the query.
    if (backend === "postgres") {
      const leavesWhile = (
        slowdown: (pool: { readonly poolId: string; readonly accountId: string }) => Effect.Effect<
          Effect.Effect<void>,
          never,
          SqlClient.SqlClient
        >
      ) =>
        Effect.gen(function*() {
          const fake = yield* Fake
          const pool = yield* setupPool(1)
          const key = yield* oneAtATime(pool.slug)
          const restore = yield* slowdown({ poolId: pool.poolId, accountId: pool.accounts[0]!.id })
          fake.reset()
          fake.fault(pool.accounts[0]!.fake.accountId, { kind: "stall", ms: 30_000 }, 1)
          const abortsBefore = fake.aborts
          const controller = new AbortController()
          const url = yield* gatewayUrl
          const leaving = fetch(`${url}/backend-api/codex/responses`, {
            method: "POST",
            headers: codexHeaders(key, "thread-leaves"),
            body: JSON.stringify(responsesBody()),
            signal: controller.signal
          }).then(() => "answered", () => "aborted")
          yield* Effect.promise(() => fake.waitFor(() => fake.requests.length === 1, 5_000))
          controller.abort()
          expect(yield* Effect.promise(() => leaving)).toBe("aborted")
          yield* Effect.promise(() => fake.waitFor(() => fake.aborts > abortsBefore, 10_000))
          const sql = yield* SqlClient.SqlClient
          const keyId = (yield* (yield* PoolKeys).verify(key)).id
          const rows = yield* sql`SELECT id FROM requests WHERE key_id = ${keyId}`
          expect(yield* settledRow(String(rows[0]!["id"]))).toMatchObject({
            status: "cancelled",
            errorCode: "client_closed"
          })
          yield* restore
          expect((yield* turn(key, "thread-next")).status).toBe(200)
        })

      it.effect("a client that leaves between forward and relay cancels the row and releases the upstream body", () =>
        leavesWhile((pool) => onBind(pool.poolId, "PERFORM pg_sleep(2)")))

      // The answer has arrived upstream-side but forward still waits for its attempt row: an interruption there must
      // not lose the body it was about to hand on.
      it.effect("a client that leaves while the answer waits for its attempt row releases the upstream body", () =>
        leavesWhile((pool) =>
          onInsert("request_attempts", `NEW.account_id = '${pool.accountId}'`, "PERFORM pg_sleep(2)")
        ))
    }
  })
})
