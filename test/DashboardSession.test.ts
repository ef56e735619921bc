import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { backends } from "./support/Databases.ts"
import { gatewayLayer, gatewayUrl } from "./support/Gateway.ts"
import { type Answer, send } from "./support/Requests.ts"

const evil = "http://evil.example"

const admin = (path: string, init: RequestInit = {}) =>
  Effect.flatMap(gatewayUrl, (url) => send(`${url}${path}`, { redirect: "manual", ...init }))

const post = (path: string, headers: Record<string, string>, body = "") =>
  admin(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body })

const sessionOf = (answer: Answer) => /^codex_pooler_admin=([^;]*)/.exec(answer.headers.get("set-cookie") ?? "")?.[1]

const operatorToken = Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope: "read" }))

// The sign-in form as a browser on the gateway's page posts it; `origin: null` leaves the header out.
const signIn = (token: string, origin?: string | null, extra: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const own = yield* gatewayUrl
    const headers = origin === null ? extra : { origin: origin ?? own, ...extra }
    const answer = yield* post("/admin/login", headers, new URLSearchParams({ token }).toString())
    return { answer, session: sessionOf(answer) }
  })

const page = (session: string) =>
  Effect.map(admin("/admin", { headers: { cookie: `codex_pooler_admin=${session}` } }), (answer) => answer.status)

// The CSRF token the session's page carries (its sign-out form's).
const csrfFor = (session: string) =>
  Effect.map(
    admin("/admin", { headers: { cookie: `codex_pooler_admin=${session}` } }),
    (answer) => /name="csrf" value="([^"]*)"/.exec(answer.text)?.[1] ?? ""
  )

const signOutBody = (session: string) =>
  Effect.map(csrfFor(session), (csrf) => new URLSearchParams({ csrf }).toString())

const sessionRows = (tokenId: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql`SELECT encode(id_hash, 'hex') AS id_hash, row_to_json(s)::text AS json,
        extract(epoch FROM expires_at - created_at)::int AS lifetime
      FROM dashboard_sessions s WHERE operator_token_id = ${tokenId} ORDER BY created_at`
  )

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

describe.each(backends)("dashboard sessions on %s", (backend) => {
  layer(gatewayLayer(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    it.effect("the cookie is a random session id, not the token; the database holds only its hash", () =>
      Effect.gen(function*() {
        const { operatorToken: row, token } = yield* operatorToken
        const { answer, session } = yield* signIn(token)
        expect(answer.status).toBe(303)
        expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/)
        // `cpo_<id>_<secret>`: the secret is base64url, which may itself hold "_", so it is all after the id.
        const secret = token.split("_").slice(2).join("_")
        expect(secret.length).toBeGreaterThan(20)
        for (const part of [token, secret, row.id]) expect(answer.headers.get("set-cookie")).not.toContain(part)
        expect(answer.headers.get("set-cookie")).toContain("Max-Age=43200")
        expect(yield* page(session ?? "")).toBe(200)

        const rows = yield* sessionRows(row.id)
        expect(rows).toHaveLength(1)
        expect(rows[0]).toMatchObject({ idHash: sha256(session ?? ""), lifetime: 43_200 })
        const stored = String(rows[0]?.["json"])
        for (const part of [session ?? "", token, secret]) expect(stored).not.toContain(part)
      }))

    it.effect("a sign-in posted from another origin, or with none, is refused with 403 and starts no session", () =>
      Effect.gen(function*() {
        const { operatorToken: row, token } = yield* operatorToken
        for (const origin of [evil, null, "null", `${evil}:${new URL(yield* gatewayUrl).port}`]) {
          const { answer, session } = yield* signIn(token, origin)
          expect(answer.status).toBe(403)
          expect(answer.headers.get("set-cookie")).toBeNull()
          expect(session).toBeUndefined()
        }
        expect(yield* sessionRows(row.id)).toHaveLength(0)
      }))

    it.effect("a sign-out from another origin is refused and the session goes on; from the gateway it is deleted", () =>
      Effect.gen(function*() {
        const { operatorToken: row, token } = yield* operatorToken
        const session = (yield* signIn(token)).session ?? ""
        const cookie = `codex_pooler_admin=${session}`
        for (const headers of [{ cookie, origin: evil }, { cookie }]) {
          const refused = yield* post("/admin/logout", headers)
          expect(refused.status).toBe(403)
          expect(refused.headers.get("set-cookie")).toBeNull()
        }
        expect(yield* page(session)).toBe(200)
        // from the gateway's origin but without the session's CSRF token: refused too
        const forged = yield* post("/admin/logout", { cookie, origin: yield* gatewayUrl }, "csrf=guess")
        expect(forged.status).toBe(403)
        expect(yield* page(session)).toBe(200)
        const signedOut = yield* post(
          "/admin/logout",
          { cookie, origin: yield* gatewayUrl },
          yield* signOutBody(session)
        )
        expect(signedOut.status).toBe(303)
        expect(yield* sessionRows(row.id)).toHaveLength(0)
        expect(yield* page(session)).toBe(401)
      }))

    it.effect("revoking the operator token ends its sessions", () =>
      Effect.gen(function*() {
        const { operatorToken: row, token } = yield* operatorToken
        const session = (yield* signIn(token)).session ?? ""
        expect(yield* page(session)).toBe(200)
        yield* (yield* OperatorTokens).revoke(row.id)
        const refused = yield* admin("/admin", { headers: { cookie: `codex_pooler_admin=${session}` } })
        expect(refused.status).toBe(401)
        expect(refused.headers.get("set-cookie")).toMatch(/^codex_pooler_admin=; Max-Age=0; Path=\/admin/)
      }))

    it.effect("a session past its expiry, or idle for longer than 30 minutes, no longer works", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { token } = yield* operatorToken
        const [expired, idle, live] = [
          (yield* signIn(token)).session ?? "",
          (yield* signIn(token)).session ?? "",
          (yield* signIn(token)).session ?? ""
        ]
        yield* sql`UPDATE dashboard_sessions SET expires_at = now() - interval '1 second'
          WHERE id_hash = decode(${sha256(expired)}, 'hex')`
        yield* sql`UPDATE dashboard_sessions SET last_seen_at = now() - interval '31 minutes'
          WHERE id_hash = decode(${sha256(idle)}, 'hex')`
        expect([yield* page(expired), yield* page(idle), yield* page(live)]).toEqual([401, 401, 200])
      }))

    it.effect("sessions are bounded: the expired ones go at the next sign-in, and a token keeps its newest 32", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { operatorToken: row, token } = yield* operatorToken
        const sessions: Array<string> = []
        for (let n = 0; n < 34; n++) sessions.push((yield* signIn(token)).session ?? "")
        const rows = yield* sessionRows(row.id)
        expect(rows.map((r) => r["idHash"])).toEqual(sessions.slice(2).map(sha256))
        expect([yield* page(sessions[0] ?? ""), yield* page(sessions[1] ?? ""), yield* page(sessions[33] ?? "")])
          .toEqual([401, 401, 200])

        yield* sql`UPDATE dashboard_sessions SET expires_at = now() - interval '1 second'
          WHERE operator_token_id = ${row.id}`
        const other = yield* operatorToken
        yield* signIn(other.token)
        expect(yield* sessionRows(row.id)).toHaveLength(0)
      }))

    it.effect("x-forwarded-proto: https does not make the cookie Secure (the setting is off)", () =>
      Effect.gen(function*() {
        const { token } = yield* operatorToken
        const { answer } = yield* signIn(token, undefined, { "x-forwarded-proto": "https" })
        expect(answer.status).toBe(303)
        expect(answer.headers.get("set-cookie")).not.toContain("Secure")
      }))
  })

  layer(gatewayLayer(backend, { CODEX_POOLER_COOKIE_SECURE: "true" }), { excludeTestServices: true, timeout: 60_000 })(
    (it) => {
      it.effect("CODEX_POOLER_COOKIE_SECURE=true makes the session cookie Secure, and its sign-out cookie too", () =>
        Effect.gen(function*() {
          const { token } = yield* operatorToken
          const { answer, session } = yield* signIn(token)
          expect(answer.headers.get("set-cookie")).toContain("Secure")
          const signedOut = yield* post("/admin/logout", {
            cookie: `codex_pooler_admin=${session}`,
            origin: yield* gatewayUrl
          }, yield* signOutBody(session ?? ""))
          expect(signedOut.headers.get("set-cookie")).toContain("Secure")
        }))
    }
  )
})
