import { HttpLayerRouter, HttpServerRequest, HttpServerResponse, UrlParams } from "@effect/platform"
import { Effect, Either, Layer, Option } from "effect"
import { Accounts } from "../Accounts.ts"
import { Activity } from "../Activity.ts"
import { CookieSecure } from "../Config.ts"
import { DashboardSessions } from "../DashboardSessions.ts"
import { bearerOf } from "../Domain/Bearer.ts"
import { FleetRepo } from "../Mcp/FleetRepo.ts"
import { OperatorTokens } from "../OperatorTokens.ts"
import { Pools } from "../Pools.ts"
import { Quota } from "../Quota.ts"
import { cookie, cookieOptions, sameOrigin } from "./Dashboard/Guard.ts"
import { loginPage } from "./Dashboard/Html.ts"
import { dashboardPage } from "./Dashboard/Page.ts"
import { makeSnapshot } from "./Dashboard/Snapshot.ts"

const formLimit = 4096

// `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null` with the page's own form
// posts, which the sign-in's Origin check must refuse. Nothing is ever sent to another site either way.
const securityHeaders = {
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin"
}

const page = (status: number, body: string) =>
  HttpServerResponse.text(body, {
    status,
    contentType: "text/html; charset=utf-8",
    headers: status === 401
      ? { ...securityHeaders, "www-authenticate": `Bearer realm="codex-pooler"` }
      : securityHeaders
  })

const signIn = (status: number, message?: string) => page(status, loginPage(message))

const toDashboard = HttpServerResponse.redirect("/admin", { status: 303, headers: securityHeaders })

const mediaType = (contentType: string | undefined) => contentType?.split(";")[0]?.trim().toLowerCase()

// A read-only page for operators: an operator token of either scope, as a bearer header (scripts), or a browser
// session the sign-in form starts. The session's cookie is a random id, never the token; revoking the token ends it.
const routes = Effect.gen(function*() {
  const tokens = yield* OperatorTokens
  const sessions = yield* DashboardSessions
  const snapshot = yield* makeSnapshot
  const options = cookieOptions(yield* CookieSecure)

  const signedOut = (response: HttpServerResponse.HttpServerResponse) =>
    HttpServerResponse.expireCookie(response, cookie, options)

  const show = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const bearer = bearerOf(request.headers["authorization"])
      if (bearer !== undefined) {
        const verified = yield* Effect.either(tokens.verify(bearer))
        return Either.isRight(verified) ? page(200, dashboardPage(yield* snapshot)) : signIn(401, verified.left.message)
      }
      const session = request.cookies[cookie]
      if (session === undefined) return signIn(401)
      if (Option.isSome(yield* sessions.check(session))) return page(200, dashboardPage(yield* snapshot))
      return signedOut(signIn(401, "The session has ended; sign in again."))
    })

  const crossOrigin = signIn(403, "The form was not sent from this gateway's own page.")

  const login = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      if (!sameOrigin(request)) return crossOrigin
      if (mediaType(request.headers["content-type"]) !== "application/x-www-form-urlencoded") {
        return signIn(415, "The sign-in form must be sent as application/x-www-form-urlencoded.")
      }
      const tooLarge = signIn(413, "The sign-in form is too large.")
      if (Number(request.headers["content-length"] ?? 0) > formLimit) return tooLarge
      // Without a length (chunked), reading stops at the limit and the connection is dropped.
      const form = yield* request.urlParamsBody.pipe(
        HttpServerRequest.withMaxBodySize(Option.some(formLimit)),
        Effect.option
      )
      if (Option.isNone(form)) return tooLarge
      const token = Option.getOrElse(UrlParams.getFirst(form.value, "token"), () => "").trim()
      const verified = yield* Effect.either(tokens.verify(token))
      if (Either.isLeft(verified)) return signIn(401, verified.left.message)
      // A session id is 43 base64url characters, a valid cookie value as it is.
      const session = yield* sessions.start(verified.right.id)
      return HttpServerResponse.unsafeSetCookie(toDashboard, cookie, session, options)
    })

  const logout = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      if (!sameOrigin(request)) return crossOrigin
      const session = request.cookies[cookie]
      if (session !== undefined) yield* sessions.end(session)
      return signedOut(toDashboard)
    })

  return [
    HttpLayerRouter.route("GET", "/admin", show),
    HttpLayerRouter.route("POST", "/admin/login", login),
    HttpLayerRouter.route("POST", "/admin/logout", logout)
  ]
})

export const DashboardRoutes = HttpLayerRouter.addAll(routes).pipe(
  Layer.provide([
    OperatorTokens.Default,
    DashboardSessions.Default,
    Activity.Default,
    Pools.Default,
    Accounts.Default,
    Quota.Default,
    FleetRepo.Default
  ])
)
