import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Pools } from "../src/Pools.ts"
import { runBinary } from "./support/Binary.ts"
import { backends, tempDir } from "./support/Databases.ts"
import { hold } from "./support/Hold.ts"
import { protocolViolations } from "./support/ProtocolViolations.ts"
import { closeCodeOf, opcodes, rawUpgrade } from "./support/RawWebSocket.ts"
import { codexHeaders, responsesBody, send, sseEvents } from "./support/Requests.ts"
import { onServedDatabase, Served, servedGateway, servedPool } from "./support/Serve.ts"

const listing = Schema.parseJson(Schema.Array(Schema.Struct({ slug: Schema.String })))

const reached = (url: string) => Effect.promise(() => fetch(url).then(() => "answered", () => "refused"))

// One `serve` process per database for these tests, with every log level on, so that the last test can look for
// secrets in all it wrote. The last test stops it.
describe.each(backends)("codex-pooler serve on %s", (backend) => {
  layer(servedGateway(backend, { LOG_LEVEL: "all" }), { timeout: 90_000 })((it) => {
    it.effect("answers health and readiness", () =>
      Effect.gen(function*() {
        const { gateway } = yield* Served
        const health = yield* send(`${gateway.url}/healthz`)
        expect(health.status).toBe(200)
        expect(JSON.parse(health.text)).toEqual({ status: "ok" })
        const ready = yield* send(`${gateway.url}/readyz`)
        expect(ready.status).toBe(200)
        expect(JSON.parse(ready.text)).toEqual({ status: "ready", migration: 11 })
      }))

    it.effect("shares its database with the CLI", () =>
      Effect.gen(function*() {
        const { env } = yield* Served
        const created = yield* runBinary(["pool", "create", "while-serving"], env)
        expect(created.code, created.stderr).toBe(0)
        const listed = yield* runBinary(["pool", "list", "--json"], env)
        const slugs = Schema.decodeUnknownSync(listing)(listed.stdout).map(({ slug }) => slug)
        expect(slugs).toContain("while-serving")
        const stored = yield* onServedDatabase(Effect.flatMap(Pools, (pools) => pools.list))
        expect(slugs.sort()).toEqual(stored.map(({ slug }) => slug).sort())
      }))

    it.effect("a websocket protocol violation ends that socket only: the process stays up and serves", () =>
      Effect.gen(function*() {
        const { gateway } = yield* Served
        const { key } = yield* servedPool
        const headers = { ...codexHeaders(key), "openai-beta": "responses_websockets=2026-02-06" }
        for (const [, bytes, code] of protocolViolations.slice(0, 4)) {
          const client = yield* Effect.promise(() => rawUpgrade(gateway.url, "/backend-api/codex/responses", headers))
          expect(client.status).toBe(101)
          client.socket.write(bytes)
          const close = yield* Effect.promise(() => client.next((one) => one.opcode === opcodes.close))
          expect(closeCodeOf(close)).toBe(code)
          yield* Effect.promise(() => client.closed)
        }
        expect(gateway.child.exitCode).toBeNull()
        expect((yield* send(`${gateway.url}/healthz`)).status).toBe(200)
        const answer = yield* send(`${gateway.url}/backend-api/codex/responses`, {
          method: "POST",
          headers: codexHeaders(key),
          body: JSON.stringify(responsesBody())
        })
        expect(answer.status).toBe(200)
      }))

    // Last: it ends the process.
    it.effect("SIGTERM lets an in-flight stream finish, refuses new connections, exits 0 and logs no secret", () =>
      Effect.gen(function*() {
        const { env, fake, gateway } = yield* Served
        const { account, key } = yield* servedPool
        const held = hold()
        fake.fault(account.accountId, held.fault)
        const inFlight = yield* Effect.promise(() =>
          fetch(`${gateway.url}/backend-api/codex/responses`, {
            method: "POST",
            headers: codexHeaders(key),
            body: JSON.stringify(responsesBody())
          })
        )
        expect(inFlight.status).toBe(200)
        const stopped = gateway.stop("SIGTERM")
        // logged once the listener is closed, with the requests still in flight
        yield* gateway.printed(/shutting down.*inFlight=1/)
        expect(yield* reached(`${gateway.url}/healthz`)).toBe("refused")
        held.release()
        expect(sseEvents(yield* Effect.promise(() => inFlight.text())).at(-1)?.type).toEqual("response.completed")
        expect(yield* Effect.promise(() => stopped)).toBe(0)
        expect(yield* reached(`${gateway.url}/healthz`)).toBe("refused")
        for (
          const secret of [
            key,
            key.slice(-43),
            account.accessToken,
            account.refreshToken,
            fake.account(account.accountId).accessToken
          ]
        ) {
          expect(gateway.output()).not.toContain(secret)
        }
        if (env["CODEX_POOLER_DATA_DIR"] !== undefined) {
          expect(fs.readdirSync(env["CODEX_POOLER_DATA_DIR"]).sort()).toEqual(["pgdata", "secret.key"])
        }
      }))
  })
})

describe("configuration errors", () => {
  it.scoped("stop the start with one line naming each bad variable", () =>
    Effect.gen(function*() {
      const dataDir = path.join(yield* tempDir("config"), "data")
      const cases = [
        [{ PORT: "abc" }, "PORT must be a TCP port number 0-65535, got \"abc\""],
        [{ PORT: "70000" }, "PORT must be a TCP port number"],
        [{ DATABASE_URL: "mysql://db/x" }, "DATABASE_URL must be a postgres:// or postgresql:// URL"],
        [{ CODEX_POOLER_SECRET_KEY: "c2hvcnQ=" }, "CODEX_POOLER_SECRET_KEY must be 32 bytes encoded as base64"],
        [{ CODEX_POOLER_UPSTREAM_URL: "ftp://example" }, "CODEX_POOLER_UPSTREAM_URL must be an http(s) URL"],
        [{ CODEX_POOLER_AUTH_URL: "not a url" }, "CODEX_POOLER_AUTH_URL must be an http(s) URL"],
        [{ LOG_LEVEL: "loud" }, "LOG_LEVEL must be one of"],
        [{ LOG_FORMAT: "yaml" }, "LOG_FORMAT must be one of pretty, logfmt, json, got \"yaml\""],
        [
          { CODEX_POOLER_MAX_BODY_BYTES: "lots" },
          "CODEX_POOLER_MAX_BODY_BYTES must be a whole number of bytes, at least 1024"
        ],
        [
          { CODEX_POOLER_PREVIOUS_SECRET_KEYS: "c2hvcnQ=" },
          "CODEX_POOLER_PREVIOUS_SECRET_KEYS must be comma-separated 32-byte keys"
        ],
        [{ PORT: "x", LOG_LEVEL: "y" }, "PORT must be a TCP port number 0-65535, got \"x\"; LOG_LEVEL must be one of"],
        [{ DATABASE_URL: "postgres://127.0.0.1:9/x" }, "CODEX_POOLER_SECRET_KEY is required when DATABASE_URL is set"]
      ] as const
      const results = yield* Effect.forEach(
        cases,
        ([env]) => runBinary(["serve"], { CODEX_POOLER_DATA_DIR: dataDir, ...env }),
        { concurrency: 3 }
      )
      for (const [index, result] of results.entries()) {
        const message = cases[index]?.[1] ?? ""
        expect(result.code).toBe(1)
        expect(result.stderr.trimEnd().split("\n")).toHaveLength(1)
        expect(result.stderr).toContain(message)
      }
      expect(fs.existsSync(dataDir)).toBe(false)
    }), { timeout: 90_000 })
})
