import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Either } from "effect"
import { randomBytes } from "node:crypto"
import { Accounts } from "../src/Accounts.ts"
import { parseAuthJson } from "../src/Accounts/AuthJson.ts"
import { Pools } from "../src/Pools.ts"
import { makeAuthJson } from "./support/AuthJson.ts"
import { backends, withBackend } from "./support/Databases.ts"
import { ManagementServices } from "./support/Services.ts"

const failure = (text: string) =>
  Effect.map(
    Effect.either(parseAuthJson(text)),
    Either.match({ onLeft: (error) => error.message, onRight: () => "parsed" })
  )

describe("auth.json parsing", () => {
  it.effect("reads account, user, email, plan and the access token's expiry from the claims", () =>
    Effect.gen(function*() {
      const file = makeAuthJson({
        accountId: "acc-42",
        userId: "user-7",
        email: "ops@example.com",
        plan: "team",
        exp: 1_900_000_000
      })
      const parsed = yield* parseAuthJson(JSON.stringify(file))
      expect(parsed).toMatchObject({
        chatgptAccountId: "acc-42",
        chatgptUserId: "user-7",
        email: "ops@example.com",
        plan: "team",
        accessExpiresAt: new Date(1_900_000_000_000),
        refreshToken: file.tokens.refresh_token,
        lastRefreshAt: new Date("2026-11-26T07:20:00.248Z")
      })
    }))

  it.effect("takes the account id from the id_token when tokens.account_id is null", () =>
    Effect.gen(function*() {
      const file = makeAuthJson({ accountId: "acc-from-claims" })
      const parsed = yield* parseAuthJson(JSON.stringify({ ...file, tokens: { ...file.tokens, account_id: null } }))
      expect(parsed.chatgptAccountId).toEqual("acc-from-claims")
    }))

  it.effect("explains malformed and incomplete files in one line", () =>
    Effect.gen(function*() {
      const file = makeAuthJson()
      expect(yield* failure("{not json")).toEqual("auth.json is not valid JSON")
      expect(yield* failure(JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "sk-x" }))).toMatch(
        /no ChatGPT tokens: tokens/
      )
      const missing = yield* failure(JSON.stringify({ tokens: { id_token: file.tokens.id_token } }))
      expect(missing).toContain("tokens.access_token is missing")
      expect(missing).toContain("tokens.refresh_token is missing")
      expect(yield* failure(JSON.stringify({ tokens: { ...file.tokens, id_token: "not-a-jwt" } }))).toEqual(
        "tokens.id_token is not a readable JWT"
      )
      expect(yield* failure(JSON.stringify({ tokens: { ...file.tokens, refresh_token: "" } }))).toContain(
        "tokens.refresh_token must be a non-empty string"
      )
    }))
})

describe.each(backends)("account import on %s", (backend) => {
  layer(withBackend(backend, ManagementServices), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("the same account imported twice is updated, not duplicated, and joins the second pool", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const pools = yield* Pools
        const accounts = yield* Accounts
        const [first, second] = [`a-${randomBytes(3).toString("hex")}`, `b-${randomBytes(3).toString("hex")}`]
        yield* pools.create({ slug: first })
        yield* pools.create({ slug: second })
        const original = makeAuthJson({ accountId: `acc-${first}` })
        const renewed = makeAuthJson({ accountId: `acc-${first}`, plan: "plus" })

        const imported = yield* accounts.importAuthJson(first, JSON.stringify(original))
        const sealedBefore = yield* sql`SELECT refresh_token_enc FROM accounts WHERE id = ${imported.account.id}`
        const again = yield* accounts.importAuthJson(second, JSON.stringify(renewed))

        expect(imported.created).toBe(true)
        expect(again.created).toBe(false)
        expect(again.account.id).toEqual(imported.account.id)
        expect(again.account.plan).toEqual("plus")
        expect(again.account.pools).toEqual([first, second].sort())
        const rows = yield* sql`
          SELECT refresh_token_enc, credentials_version FROM accounts WHERE chatgpt_account_id = ${`acc-${first}`}`
        expect(rows).toHaveLength(1)
        expect(rows[0]?.["credentialsVersion"]).toEqual(2)
        expect(rows[0]?.["refreshTokenEnc"]).not.toEqual(sealedBefore[0]?.["refreshTokenEnc"])
      }))

    it.effect("a bad file or an unknown pool writes nothing", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const accounts = yield* Accounts
        const accountId = `acc-${randomBytes(4).toString("hex")}`
        const unknownPool = yield* Effect.either(
          accounts.importAuthJson("no-such-pool", JSON.stringify(makeAuthJson({ accountId })))
        )
        expect(Either.isLeft(unknownPool) && unknownPool.left._tag).toEqual("PoolNotFound")
        expect(yield* sql`SELECT id FROM accounts WHERE chatgpt_account_id = ${accountId}`).toHaveLength(0)
      }))
  })
})
