import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { startFakeUpstream } from "./FakeUpstream/FakeUpstream.ts"
import { cli } from "./support/Cli.ts"
import { backendEnv, backends, tempDir } from "./support/Databases.ts"
import { codexHeaders, responsesBody, sseEvents } from "./support/Requests.ts"
import { startGateway } from "./support/Serve.ts"

describe.each(backends)("codex-pooler serve on %s", (backend) => {
  it.scoped(
    "answers health and readiness, shares its database with the CLI, and stops cleanly on SIGTERM",
    () =>
      Effect.gen(function*() {
        const env = yield* backendEnv(backend)
        const gateway = yield* startGateway(env)

        const health = yield* Effect.promise(() => fetch(`${gateway.url}/healthz`))
        expect(health.status).toBe(200)
        expect(yield* Effect.promise(() => health.json())).toEqual({ status: "ok" })
        const ready = yield* Effect.promise(() => fetch(`${gateway.url}/readyz`))
        expect(ready.status).toBe(200)
        expect(yield* Effect.promise(() => ready.json())).toEqual({ status: "ready", migration: 4 })

        const created = yield* Effect.promise(() => cli(["pool", "create", "while-serving"], env))
        expect(created.code, created.stderr).toBe(0)
        const listed = yield* Effect.promise(() => cli(["pool", "list", "--json"], env))
        expect(JSON.parse(listed.stdout)).toMatchObject([{ slug: "while-serving" }])

        expect(yield* Effect.promise(() => gateway.stop("SIGTERM"))).toBe(0)
        const refused = yield* Effect.promise(() =>
          fetch(`${gateway.url}/healthz`).then(() => "answered", () => "refused")
        )
        expect(refused).toBe("refused")
        if (env.CODEX_POOLER_DATA_DIR !== undefined) {
          expect(fs.readdirSync(env.CODEX_POOLER_DATA_DIR).sort()).toEqual(["pgdata", "secret.key"])
        }
      }),
    { timeout: 90_000 }
  )
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
        ([env]) => Effect.promise(() => cli(["serve"], { CODEX_POOLER_DATA_DIR: dataDir, ...env })),
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

describe("graceful shutdown", () => {
  it.scopedLive(
    "SIGTERM lets an in-flight stream finish, refuses new connections, and exits 0",
    () =>
      Effect.gen(function*() {
        const fake = yield* Effect.acquireRelease(
          Effect.promise(() => startFakeUpstream()),
          (fake) => Effect.promise(() => fake.close())
        )
        const env = {
          ...(yield* backendEnv("pglite")),
          CODEX_POOLER_UPSTREAM_URL: fake.url,
          CODEX_POOLER_AUTH_URL: fake.authUrl,
          LOG_LEVEL: "all"
        }
        const account = fake.addAccount()
        const authFile = path.join(yield* tempDir("drain"), "auth.json")
        fs.writeFileSync(authFile, JSON.stringify(fake.authJson(account.accountId)))
        for (const args of [["pool", "create", "drain"], ["account", "import", "--pool", "drain", authFile]]) {
          expect((yield* Effect.promise(() => cli(args, env))).code).toBe(0)
        }
        const key = (yield* Effect.promise(() =>
          cli(["key", "create", "--pool", "drain"], env)
        )).stdout.trimEnd().split("\n").at(-1) ?? ""
        const gateway = yield* startGateway(env)
        fake.fault(account.accountId, { kind: "stall", ms: 1_500 })

        const inFlight = fetch(`${gateway.url}/backend-api/codex/responses`, {
          method: "POST",
          headers: codexHeaders(key),
          body: JSON.stringify(responsesBody())
        }).then((response) =>
          response.text()
        )
        yield* Effect.promise(() =>
          fake.waitFor(() => fake.requests.some((request) => request.path.endsWith("/responses")), 10_000)
        )
        const stopped = gateway.stop("SIGTERM")
        yield* Effect.sleep("300 millis")
        const late = yield* Effect.promise(() =>
          fetch(`${gateway.url}/healthz`).then(() => "answered", () => "refused")
        )
        expect(late).toBe("refused")
        const body = yield* Effect.promise(() => inFlight)
        expect(sseEvents(body).at(-1)?.type).toEqual("response.completed")
        expect(yield* Effect.promise(() => stopped)).toBe(0)
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
      }),
    { timeout: 90_000 }
  )
})
