import { Effect } from "effect"
import { expect } from "vitest"
import type { OperatorScope } from "../../src/Domain/Models.ts"
import { OperatorTokens } from "../../src/OperatorTokens.ts"
import { gatewayUrl } from "./Gateway.ts"
import { type Answer, send } from "./Requests.ts"

export const admin = (path: string, init: RequestInit = {}) =>
  Effect.flatMap(gatewayUrl, (url) => send(`${url}${path}`, { redirect: "manual", ...init }))

export const formPost = (path: string, headers: Record<string, string>, fields: Record<string, string>) =>
  Effect.flatMap(gatewayUrl, (origin) =>
    admin(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin, ...headers },
      body: new URLSearchParams(fields).toString()
    }))

export const csrfOf = (answer: Answer) => /name="csrf" value="([^"]*)"/.exec(answer.text)?.[1] ?? ""

// An operator token of `scope` signed in through the form, as a browser would: its cookie, and its page's CSRF token.
export const signIn = (scope: OperatorScope) =>
  Effect.gen(function*() {
    const { operatorToken, token } = yield* (yield* OperatorTokens).create({ scope })
    const answer = yield* formPost("/admin/login", {}, { token })
    const session = /^codex_pooler_admin=([^;]*)/.exec(answer.headers.get("set-cookie") ?? "")?.[1] ?? ""
    const cookie = `codex_pooler_admin=${session}`
    const page = yield* admin("/admin", { headers: { cookie } })
    expect(page.status).toBe(200)
    const act = (path: string, fields: Record<string, string> = {}, headers: Record<string, string> = {}) =>
      formPost(path, { cookie, ...headers }, { csrf: csrfOf(page), ...fields })
    return { tokenId: operatorToken.id, session, cookie, page, act } as const
  })
