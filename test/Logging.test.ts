import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Logger, LogLevel, Option, Redacted } from "effect"
import { issueSecret } from "../src/Domain/Secret.ts"
import { lineLogger, redact, redactText } from "../src/Logging.ts"
import { encodeJwt, issueTokens } from "./FakeUpstream/Tokens.ts"
import { runBinary } from "./support/Binary.ts"
import { backendEnv } from "./support/Databases.ts"

const poolKey = issueSecret("cpk").token
const operatorToken = issueSecret("cpo").token
const jwt = encodeJwt({ sub: "user-1", "https://api.openai.com/auth": { chatgpt_account_id: "acct_1" } })
const tokens = issueTokens(
  { accountId: "acct_1", userId: "user-1", email: "a@example.com", plan: "pro", accessTokenTtlSeconds: 3600 },
  1_700_000_000
)

const captured = (format: "json" | "logfmt", program: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    yield* program.pipe(
      Logger.withMinimumLogLevel(LogLevel.All),
      Effect.provide(Logger.replace(Logger.defaultLogger, lineLogger(format, (line) => lines.push(line))))
    )
    return lines
  })

describe("redactText", () => {
  it("replaces each kind of secret", () => {
    expect(redactText(`Authorization: Bearer ${poolKey}`)).toBe("Authorization: Bearer [redacted]")
    expect(redactText("authorization: bearer some.opaque/token+value=")).toBe("authorization: bearer [redacted]")
    expect(redactText(`key ${poolKey} and token ${operatorToken}.`)).toBe("key [redacted] and token [redacted].")
    expect(redactText(`id ${tokens.idToken}, access ${jwt}`)).toBe("id [redacted], access [redacted]")
    expect(redactText("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. end")).toBe("unsigned [redacted] end")
    expect(redactText(`refresh with ${tokens.refreshToken}`)).toBe("refresh with [redacted]")
    expect(redactText("rt_AbC123-xyz.more")).toBe("[redacted]")
  })

  it("replaces token values in JSON, JSON inside a string, and form bodies, keeping the keys", () => {
    const body = JSON.stringify({ refresh_token: "opaque-1", access_token: "opaque-2", id_token: "opaque-3", n: 1 })
    expect(redactText(body)).toBe(
      `{"refresh_token":"[redacted]","access_token":"[redacted]","id_token":"[redacted]","n":1}`
    )
    expect(redactText(`said ${JSON.stringify(body)}`)).toBe(`said ${JSON.stringify(redactText(body))}`)
    expect(redactText(`{ "refresh_token" : "opaque" }`)).toBe(`{ "refresh_token" : "[redacted]" }`)
    expect(redactText("grant_type=refresh_token&refresh_token=opaque&client_id=app_x")).toBe(
      "grant_type=refresh_token&refresh_token=[redacted]&client_id=app_x"
    )
  })

  it("leaves ordinary text alone and is idempotent", () => {
    const ordinary = [
      "request req_01JZ8Q2X9 for acct_7f3a on pool_1a2b3c4d5e6f7a8b, key 0123456789abcdef",
      "POST https://chatgpt.com/backend-api/codex/responses?stream=true took 412ms (status 200, 3 retries)",
      "refresh token rejected (refresh_token_expired): the account must be signed in again",
      "start_time=1700000000 parts=3 sorted_by=rt",
      "Missing pool key: send Authorization: Bearer <cpk_…>",
      "grant_type=refresh_token",
      ""
    ]
    for (const text of ordinary) expect(redactText(text)).toBe(text)
    const once = redactText(`Bearer ${jwt} ${poolKey} {"access_token":"${jwt}"}`)
    expect(once).toBe(`Bearer [redacted] [redacted] {"access_token":"[redacted]"}`)
    expect(redactText(once)).toBe(once)
  })
})

describe("redact", () => {
  it("walks nested objects and arrays, redacting strings, token fields and Redacted values", () => {
    const circular: Record<string, unknown> = { requestId: "req_1" }
    circular["self"] = circular
    expect(redact({
      requestId: "req_1",
      attempts: [1, 2, { header: `Bearer ${poolKey}`, ok: true, none: null }],
      account: { accountId: "acct_1", refreshToken: "opaque", tokens: { access_token: "opaque", n: 5 } },
      vault: Redacted.make("hunter2"),
      big: 10n,
      circular
    })).toEqual({
      requestId: "req_1",
      attempts: [1, 2, { header: "Bearer [redacted]", ok: true, none: null }],
      account: { accountId: "acct_1", refreshToken: "[redacted]", tokens: { access_token: "[redacted]", n: 5 } },
      vault: "[redacted]",
      big: "10",
      circular: { requestId: "req_1", self: "[Circular]" }
    })
  })

  it("turns errors and values with toJSON into redacted plain data", () => {
    expect(redact(new TypeError(`no ${tokens.refreshToken}`))).toEqual({ name: "TypeError", message: "no [redacted]" })
    expect(redact({ at: new Date(0), never: new Date(Number.NaN) })).toEqual({
      at: "1970-01-01T00:00:00.000Z",
      never: null
    })
    expect(redact(Option.some(`Bearer ${jwt}`))).toEqual({ _id: "Option", _tag: "Some", value: "Bearer [redacted]" })
    expect(redact(["plain", 42, false, undefined])).toEqual(["plain", 42, false, undefined])
  })
})

describe("json log lines", () => {
  it.effect("carry timestamp, level, message, fiber id, spans and annotations as fields, secrets redacted", () =>
    Effect.gen(function*() {
      const lines = yield* captured(
        "json",
        Effect.gen(function*() {
          yield* Effect.logInfo(`proxying with Bearer ${poolKey}`)
          yield* Effect.logWarning("refresh failed", { upstream: jwt }).pipe(
            Effect.annotateLogs({ vault: Redacted.make(tokens.refreshToken), answer: { id_token: tokens.idToken } })
          )
          yield* Effect.logError("relay failed", Cause.fail(new Error(`upstream rejected Bearer ${jwt}`)))
        }).pipe(
          Effect.annotateLogs({ requestId: "req_abc", accountId: "acct_1", poolId: "pool_1" }),
          Effect.withLogSpan("request")
        )
      )
      const records = lines.map((line) => JSON.parse(line))
      expect(records).toHaveLength(3)
      for (const record of records) {
        expect(new Date(record.timestamp).toISOString()).toBe(record.timestamp)
        expect(record).toMatchObject({ requestId: "req_abc", accountId: "acct_1", poolId: "pool_1" })
        expect(record.fiberId).toMatch(/^#\d+$/)
        expect(record.spans).toEqual({ request: expect.any(Number) })
      }
      expect(records.map((record) => [record.level, record.message])).toEqual([
        ["INFO", "proxying with Bearer [redacted]"],
        ["WARN", ["refresh failed", { upstream: "[redacted]" }]],
        ["ERROR", "relay failed"]
      ])
      expect(records[1]).toMatchObject({ vault: "[redacted]", answer: { id_token: "[redacted]" } })
      expect(records[2].cause).toContain("upstream rejected Bearer [redacted]")
      const all = lines.join("\n")
      for (const secret of [poolKey, jwt, tokens.idToken, tokens.refreshToken]) expect(all).not.toContain(secret)
    }))

  it.effect("keep the core fields when an annotation has the same name, and leave out empty spans", () =>
    Effect.gen(function*() {
      const logged = Effect.logDebug("hello").pipe(Effect.annotateLogs({ level: "x", message: "y" }))
      const [line = ""] = yield* captured("json", logged)
      const record = JSON.parse(line)
      expect(record).toMatchObject({ level: "DEBUG", message: "hello" })
      expect(Object.keys(record).slice(0, 4)).toEqual(["timestamp", "level", "fiberId", "message"])
      expect(record).not.toHaveProperty("spans")
    }))
})

describe("logfmt log lines", () => {
  it.effect("are one line each, with annotations and causes redacted", () =>
    Effect.gen(function*() {
      const lines = yield* captured(
        "logfmt",
        Effect.logError(`retrying ${operatorToken}`, Cause.die(new Error(`refresh_token=${tokens.refreshToken}`))).pipe(
          Effect.annotateLogs({ requestId: "req_abc", header: `Bearer ${poolKey}` })
        )
      )
      expect(lines).toHaveLength(1)
      const [line = ""] = lines
      expect(line).toMatch(/^timestamp=\S+ level=ERROR fiber=#\d+ message="retrying \[redacted\]" /)
      expect(line).toContain("requestId=req_abc")
      expect(line).toContain(`header="Bearer [redacted]"`)
      expect(line).toContain("refresh_token=[redacted]")
      expect(line).not.toContain("\n")
      for (const secret of [operatorToken, poolKey, tokens.refreshToken]) expect(line).not.toContain(secret)
    }))
})

describe("LOG_FORMAT in the CLI", () => {
  it.scoped(
    "json writes one object per line to stderr, stdout is untouched, and a pipe defaults to logfmt",
    () =>
      Effect.gen(function*() {
        const env = { ...(yield* backendEnv("pglite")), LOG_LEVEL: "all" }
        const migrated = yield* runBinary(["migrate"], { ...env, LOG_FORMAT: "json" })
        expect(migrated.code, migrated.stderr).toBe(0)
        expect(migrated.stdout).toMatch(/^applied \d{4}_\w+(, \d{4}_\w+)*\n$/)
        const records = migrated.stderr.trimEnd().split("\n").map((line) => JSON.parse(line))
        expect(records.length).toBeGreaterThan(1)
        for (const record of records) {
          expect(new Date(record.timestamp).toISOString()).toBe(record.timestamp)
          expect(record).toMatchObject({ level: expect.stringMatching(/^[A-Z]+$/), message: expect.any(String) })
          expect(record.fiberId).toMatch(/^#\d+$/)
        }
        expect(records.at(-1)).toMatchObject({
          message: "Migrations complete",
          latest_migration_id: expect.any(String)
        })

        const created = yield* runBinary(["pool", "create", "logs"], env)
        expect(created.code, created.stderr).toBe(0)
        expect(created.stdout).toMatch(/^created pool logs \(/)
        for (const line of created.stderr.trimEnd().split("\n")) {
          expect(line).toMatch(/^timestamp=\S+ level=[A-Z]+ fiber=#\d+ message=/)
        }
      }),
    { timeout: 90_000 }
  )

  it.live("an unknown LOG_FORMAT stops the start with one line naming it", () =>
    Effect.gen(function*() {
      const env = { LOG_FORMAT: "bogus", CODEX_POOLER_DATA_DIR: "/nonexistent/never" }
      const result = yield* runBinary(["pool", "list"], env)
      expect(result.code).toBe(1)
      expect(result.stdout).toBe("")
      expect(result.stderr).toBe(
        "codex-pooler: invalid configuration: LOG_FORMAT must be one of pretty, logfmt, json, got \"bogus\"\n"
      )
    }), { timeout: 60_000 })
})
