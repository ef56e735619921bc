import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { gzipSync } from "node:zlib"
import { Accounts } from "../src/Accounts.ts"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { PoolKeys } from "../src/PoolKeys.ts"
import { Pools } from "../src/Pools.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, setupPool, sharedPostgres } from "./support/Gateway.ts"
import { held } from "./support/Hold.ts"
import { cuttableRelay } from "./support/Outage.ts"
import { codexHeaders, responsesBody, send } from "./support/Requests.ts"

const later = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

describe.each(backends)("gateway edge on %s", (backend) => {
  layer(gatewayLayer(backend, { CODEX_POOLER_MAX_BODY_BYTES: "4096" }), { excludeTestServices: true, timeout: 60_000 })(
    (it) => {
      it.effect("every authentication failure is a 401 in the Codex error shape and reaches no account", () =>
        Effect.gen(function*() {
          const fake = yield* Fake
          const url = `${yield* gatewayUrl}/backend-api/codex/responses`
          const pool = yield* setupPool(1)
          const keys = yield* PoolKeys
          const revoked = yield* keys.create({ poolSlug: pool.slug })
          yield* keys.revoke(revoked.key.id)
          const expired = yield* keys.create({ poolSlug: pool.slug, lifetimeMs: 1 })
          const disabled = yield* setupPool(1)
          const sql = yield* SqlClient.SqlClient
          yield* sql`UPDATE pools SET status = 'disabled' WHERE id = ${disabled.poolId}`
          const operator = yield* (yield* OperatorTokens).create({ scope: "admin" })
          yield* later(5)
          fake.reset()

          const wrongSecret = pool.key.slice(0, -43) + randomBytes(32).toString("base64url")
          const unknownId = `cpk_${randomBytes(8).toString("hex")}_${pool.key.slice(-43)}`
          const cases: ReadonlyArray<readonly [string | undefined, string]> = [
            [undefined, "Missing Pool API key: send Authorization: Bearer <cpk_…>"],
            ["Bearer", "Missing Pool API key: send Authorization: Bearer <cpk_…>"],
            ["Bearer not-a-key", "Invalid Pool API key"],
            [`Basic ${pool.key}`, "Missing Pool API key: send Authorization: Bearer <cpk_…>"],
            [`Bearer ${wrongSecret}`, "Invalid Pool API key"],
            [`Bearer ${unknownId}`, "Invalid Pool API key"],
            [`Bearer ${revoked.token}`, "This Pool API key has been revoked"],
            [`Bearer ${expired.token}`, "This Pool API key has expired"],
            [`Bearer ${disabled.key}`, "The Pool of this key is disabled"],
            [`Bearer ${operator.token}`, "Invalid Pool API key"]
          ]
          for (const [authorization, message] of cases) {
            const headers: Record<string, string> = { ...codexHeaders(""), ...(authorization ? { authorization } : {}) }
            if (!authorization) delete headers["authorization"]
            const answer = yield* send(url, { method: "POST", headers, body: JSON.stringify(responsesBody()) })
            expect(answer.status, authorization).toBe(401)
            expect(JSON.parse(answer.text)).toEqual({
              error: { type: "invalid_request_error", code: "invalid_api_key", message }
            })
          }
          const models = yield* send(`${yield* gatewayUrl}/backend-api/codex/models`, {
            headers: { authorization: `Bearer ${wrongSecret}` }
          })
          expect(models.status).toBe(401)
          expect(fake.requests).toHaveLength(0)
        }))

      it.effect("unknown paths, wrong methods, oversized, badly encoded and malformed bodies get clear 4xx answers", () =>
        Effect.gen(function*() {
          const fake = yield* Fake
          const base = `${yield* gatewayUrl}/backend-api/codex`
          const pool = yield* setupPool(1)
          fake.reset()
          const headers = codexHeaders(pool.key)
          const post = (path: string, body: string | Uint8Array, extra: Record<string, string> = {}) =>
            send(`${base}${path}`, { method: "POST", headers: { ...headers, ...extra }, body })
          const code = (text: string) => JSON.parse(text).error.code

          const notFound = yield* send(`${base}/v1/chat/completions`, { method: "POST", headers, body: "{}" })
          expect([notFound.status, code(notFound.text)]).toEqual([404, "unsupported_endpoint"])
          const root = yield* send(base, { headers })
          expect([root.status, code(root.text)]).toEqual([404, "unsupported_endpoint"])
          const wrongMethod = yield* send(`${base}/responses/compact`, { headers })
          expect([wrongMethod.status, code(wrongMethod.text), wrongMethod.headers.get("allow")]).toEqual([
            405,
            "method_not_allowed",
            "POST"
          ])
          const deleted = yield* send(`${base}/responses`, { method: "DELETE", headers })
          expect(deleted.status).toBe(405)

          const large = yield* post("/responses", JSON.stringify(responsesBody("x".repeat(5000))))
          expect([large.status, code(large.text)]).toEqual([413, "request_too_large"])
          const bomb = yield* post("/responses", gzipSync(JSON.stringify(responsesBody("y".repeat(50_000)))), {
            "content-encoding": "gzip"
          })
          expect([bomb.status, code(bomb.text)]).toEqual([413, "request_too_large"])
          const brotli = yield* post("/responses", "{}", { "content-encoding": "br" })
          expect([brotli.status, code(brotli.text)]).toEqual([415, "unsupported_content_encoding"])
          const malformed = yield* post("/responses", "{\"model\": ")
          expect([malformed.status, code(malformed.text)]).toEqual([400, "invalid_json"])
          const notObject = yield* post("/responses", "[1,2]")
          expect([notObject.status, JSON.parse(notObject.text).error.message]).toEqual([
            400,
            "request body must be a JSON object"
          ])
          const badGzip = yield* post("/responses", "not gzip", { "content-encoding": "gzip" })
          expect([badGzip.status, JSON.parse(badGzip.text).error.message]).toEqual([
            400,
            "request body is not valid gzip"
          ])
          expect(fake.requests).toHaveLength(0)
        }))

      it.effect("gzip and zstd bodies are accepted and forwarded as they came", () =>
        Effect.gen(function*() {
          const fake = yield* Fake
          const base = `${yield* gatewayUrl}/backend-api/codex`
          const pool = yield* setupPool(1)
          fake.reset()
          const json = JSON.stringify(responsesBody("compressed hello"))
          const zstd = spawnSync("zstd", ["-c", "-q"], { input: json }).stdout
          for (const [encoding, body] of [["gzip", gzipSync(json)], ["zstd", zstd]] as const) {
            const answer = yield* send(`${base}/responses`, {
              method: "POST",
              headers: { ...codexHeaders(pool.key), "content-encoding": encoding },
              body
            })
            expect(answer.status).toBe(200)
            expect(answer.text).toContain("response.completed")
          }
          expect(fake.requests.map((request) => request.headers["content-encoding"])).toEqual(["gzip", "zstd"])
          expect(fake.requests.map((request) => request.body)).toEqual([JSON.parse(json), JSON.parse(json)])
        }))
    }
  )
})

// An outage of the gateway's own PostgreSQL, made by cutting a relay in front of it.
if (backends.includes("postgres")) {
  describe("the database going away", () => {
    it.scopedLive(
      "new requests get a retryable 503 in Codex's shape, a stream under way finishes, and service resumes",
      () =>
        Effect.gen(function*() {
          const target = new URL(process.env["TEST_DATABASE_URL"] ?? "")
          const relay = yield* cuttableRelay({ host: target.hostname, port: Number(target.port || 5432) })
          const { fake, instance, manage } = yield* sharedPostgres({}, { databasePort: relay.port })
          const account = fake.addAccount()
          const key = yield* manage(Effect.gen(function*() {
            yield* (yield* Pools).create({ slug: "outage" })
            yield* (yield* Accounts).importAuthJson("outage", JSON.stringify(fake.authJson(account.accountId)))
            return (yield* (yield* PoolKeys).create({ poolSlug: "outage" })).token
          }))
          const origin = yield* instance
          const call = (thread: string) =>
            send(`${origin}/backend-api/codex/responses`, {
              method: "POST",
              headers: codexHeaders(key, thread),
              body: JSON.stringify(responsesBody())
            })
          expect((yield* call("before")).status).toBe(200)

          // Cut while a stream is under way (its first event has reached the client, the rest is held upstream): the
          // stream still ends with response.completed.
          const rest = yield* held
          fake.fault(account.accountId, rest.fault)
          const underway = yield* Effect.promise(() =>
            fetch(`${origin}/backend-api/codex/responses`, {
              method: "POST",
              headers: codexHeaders(key, "underway"),
              body: JSON.stringify(responsesBody())
            })
          )
          const reader = underway.body!.getReader()
          const head = new TextDecoder().decode((yield* Effect.promise(() => reader.read())).value)
          expect(head).toContain("response.created")
          yield* relay.cut
          rest.release()
          const tail = yield* Effect.promise(async () => {
            let text = ""
            for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
              text += new TextDecoder().decode(chunk.value)
            }
            return text
          })
          expect(underway.status).toBe(200)
          expect(head + tail).toContain("event: response.completed")

          fake.reset()
          const refused = yield* call("during")
          expect(refused.status).toBe(503)
          expect(refused.headers.get("retry-after")).toEqual("1")
          expect(JSON.parse(refused.text).error).toMatchObject({ type: "server_error", code: "database_unavailable" })
          expect(fake.requests).toHaveLength(0)
          expect((yield* send(`${origin}/readyz`)).status).toBe(503)

          yield* relay.restore
          // Service resumes: a request answered once the pool has its connections back (bounded against a hang).
          const back = yield* call("after").pipe(
            Effect.filterOrFail((answer) => answer.status === 200),
            Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("30 seconds"))),
            Effect.orElse(() => call("after"))
          )
          expect(back.status).toBe(200)
          expect((yield* send(`${origin}/readyz`)).status).toBe(200)
        }),
      { timeout: 60_000 }
    )
  })
}
