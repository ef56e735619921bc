import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { Pools } from "../src/Pools.ts"
import { backends } from "./support/Databases.ts"
import { gatewayLayer, gatewayUrl, postResponses, setupPool } from "./support/Gateway.ts"
import { type Answer, send } from "./support/Requests.ts"
import { settledRow } from "./support/Rows.ts"

const badToken = "cpo_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

const admin = (path: string, init: RequestInit = {}) =>
  Effect.flatMap(gatewayUrl, (url) => send(`${url}${path}`, { redirect: "manual", ...init }))

const dashboard = (headers: Record<string, string> = {}) => admin("/admin", { headers })

// As a browser posts the sign-in form: from the gateway's own page, so with its origin.
const form = (body: string, headers: Record<string, string> = {}) =>
  Effect.flatMap(gatewayUrl, (origin) =>
    admin("/admin/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin, ...headers },
      body
    }))

const sessionOf = (answer: Answer) =>
  /^codex_pooler_admin=([^;]*)/.exec(answer.headers.get("set-cookie") ?? "")?.[1] ?? ""

const operatorToken = Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope: "read" }))

const expectSecurityHeaders = (answer: Answer) => {
  expect(answer.headers.get("cache-control")).toBe("no-store")
  expect(answer.headers.get("content-security-policy")).toBe(
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
  )
  expect(answer.headers.get("x-content-type-options")).toBe("nosniff")
  expect(answer.headers.get("referrer-policy")).toBe("same-origin")
}

const expectSignIn = (answer: Answer) => {
  expect(answer.status).toBe(401)
  expect(answer.headers.get("content-type")).toContain("text/html")
  expect(answer.headers.get("www-authenticate")).toContain("Bearer")
  expect(answer.text).toContain(`action="/admin/login"`)
  expectSecurityHeaders(answer)
}

describe.each(backends)("admin dashboard on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("without an operator token GET /admin is a 401 sign-in page showing nothing", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const { token } = yield* operatorToken
        for (const headers of [{}, { authorization: `Bearer ${pool.key}` }, { authorization: `Bearer ${badToken}` }]) {
          const refused = yield* dashboard(headers)
          expectSignIn(refused)
          expect(refused.text).not.toContain(pool.slug)
        }
        // A stale cookie is refused and dropped.
        const stale = yield* dashboard({ cookie: `codex_pooler_admin=${badToken}` })
        expectSignIn(stale)
        expect(stale.headers.get("set-cookie")).toMatch(/^codex_pooler_admin=; Max-Age=0; Path=\/admin/)
        expect(stale.text).not.toContain(pool.slug)
        expect(stale.text).not.toContain(token)
      }))

    it.effect("an operator token as bearer shows Pools, masked accounts and keys, never a secret", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(2)
        const { token } = yield* operatorToken
        const page = yield* dashboard({ authorization: `Bearer ${token}` })
        expect(page.status).toBe(200)
        expect(page.headers.get("content-type")).toContain("text/html")
        expectSecurityHeaders(page)
        expect(page.text).toContain(pool.slug)
        expect(page.text).toContain("least_recently_used")
        expect(page.text).toContain(pool.accounts[0]!.id)
        expect(page.text).toContain("u***@fake.example")
        expect(page.text).toContain(pool.key.split("_")[1])
        expect(page.text).toContain(`<meta http-equiv="refresh" content="15">`)
        const accountSecrets = pool.accounts.flatMap(({ fake }) => [fake.email, fake.accessToken])
        for (const secret of [pool.key, token, ...accountSecrets]) {
          expect(page.text).not.toContain(secret)
        }
      }))

    it.effect("each account's saved reset credits show in its row, and the Pool's active accounts' sum beside the Pool", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const pool = yield* setupPool(2)
        const [a, b] = [pool.accounts[0]!, pool.accounts[1]!]
        yield* sql`INSERT INTO account_health (account_id, reset_credits, reset_credits_at) VALUES
          (${a.id}, 7, now()), (${b.id}, 4, now())`
        const { token } = yield* operatorToken
        const page = yield* dashboard({ authorization: `Bearer ${token}` })
        expect(page.status).toBe(200)
        expect(page.text).toContain("reset credits 11")
        yield* sql`UPDATE accounts SET status = 'paused' WHERE id = ${b.id}`
        const paused = yield* dashboard({ authorization: `Bearer ${token}` })
        expect(paused.text).toContain("reset credits 7")
        expect(paused.text).toMatch(new RegExp(`${b.id}[\\s\\S]*?<td class="n">4</td>`))
      }))

    it.effect("the sign-in form sets an HttpOnly SameSite=Strict session cookie for the page; sign-out ends it", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const { token } = yield* operatorToken
        const signedIn = yield* form(new URLSearchParams({ token }).toString())
        expect(signedIn.status).toBe(303)
        expect(signedIn.headers.get("location")).toBe("/admin")
        expectSecurityHeaders(signedIn)
        const cookie = signedIn.headers.get("set-cookie") ?? ""
        const session = sessionOf(signedIn)
        expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/)
        expect(cookie).not.toContain(token)
        expect(cookie).toContain("HttpOnly")
        expect(cookie).toContain("SameSite=Strict")
        expect(cookie).toContain("Path=/admin")
        expect(cookie).not.toContain("Secure")

        const page = yield* dashboard({ cookie: `codex_pooler_admin=${session}` })
        expect(page.status).toBe(200)
        expect(page.text).toContain(pool.slug)
        expect(page.text).not.toContain(token)
        expect(page.text).not.toContain(session)
        // The token itself is no longer a cookie that works.
        expectSignIn(yield* dashboard({ cookie: `codex_pooler_admin=${token}` }))

        const csrf = /name="csrf" value="([^"]*)"/.exec(page.text)?.[1] ?? ""
        expect(csrf).not.toBe("")
        const signedOut = yield* admin("/admin/logout", {
          method: "POST",
          headers: {
            cookie: `codex_pooler_admin=${session}`,
            origin: yield* gatewayUrl,
            "content-type": "application/x-www-form-urlencoded"
          },
          body: new URLSearchParams({ csrf }).toString()
        })
        expect(signedOut.status).toBe(303)
        expect(signedOut.headers.get("set-cookie")).toMatch(/^codex_pooler_admin=; Max-Age=0; Path=\/admin/)
        expectSignIn(yield* dashboard({ cookie: `codex_pooler_admin=${session}` }))
      }))

    it.effect("the sign-in form refuses a bad token, another content type and an oversized body", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        for (const attempt of [badToken, pool.key, ""]) {
          const refused = yield* form(new URLSearchParams({ token: attempt }).toString())
          expectSignIn(refused)
          expect(refused.headers.get("set-cookie")).toBeNull()
          expect(refused.text).toContain(`class="bad"`)
          if (attempt !== "") expect(refused.text).not.toContain(attempt)
        }
        const { token } = yield* operatorToken
        const json = yield* admin("/admin/login", {
          method: "POST",
          headers: { "content-type": "application/json", origin: yield* gatewayUrl },
          body: JSON.stringify({ token })
        })
        expect(json.status).toBe(415)
        expect(json.headers.get("set-cookie")).toBeNull()
        const large = yield* form(new URLSearchParams({ token, padding: "x".repeat(8192) }).toString())
        expect(large.status).toBe(413)
        expect(large.headers.get("set-cookie")).toBeNull()
      }))

    it.effect("a Pool name is escaped, not markup", () =>
      Effect.gen(function*() {
        const slug = `pool-${randomBytes(4).toString("hex")}`
        yield* (yield* Pools).create({ slug, name: "<script>alert(1)</script>" })
        const { token } = yield* operatorToken
        const page = yield* dashboard({ authorization: `Bearer ${token}` })
        expect(page.status).toBe(200)
        expect(page.text).not.toContain("<script>")
        expect(page.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;")
      }))

    it.effect("a request through the gateway shows among the newest requests and in the usage by Pool", () =>
      Effect.gen(function*() {
        const pool = yield* setupPool(1)
        const served = yield* postResponses(pool.key, "thread-dashboard")
        expect(served.status).toBe(200)
        const requestId = served.headers.get("x-codex-pooler-request-id") ?? ""
        yield* settledRow(requestId)
        const { token } = yield* operatorToken
        const page = yield* dashboard({ authorization: `Bearer ${token}` })
        const recent = page.text.slice(page.text.indexOf("Newest requests"))
        expect(recent).toContain(requestId)
        expect(recent).toContain("gpt-5.5")
        const usage = page.text.slice(page.text.indexOf("Usage, last 24 h"), page.text.indexOf("Newest requests"))
        expect(usage).toContain(pool.slug)
      }))
  })
})
