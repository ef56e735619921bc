import { HttpLayerRouter, HttpServerRequest, HttpServerResponse, UrlParams } from "@effect/platform"
import { Effect, Either, Layer, Option } from "effect"
import { Accounts } from "../Accounts.ts"
import { Activity } from "../Activity.ts"
import { bearerOf } from "../Domain/Bearer.ts"
import { FleetRepo } from "../Mcp/FleetRepo.ts"
import { OperatorTokens } from "../OperatorTokens.ts"
import { Pools } from "../Pools.ts"
import { Quota } from "../Quota.ts"
import { loginPage } from "./Dashboard/Html.ts"
import { dashboardPage } from "./Dashboard/Page.ts"
import { makeSnapshot } from "./Dashboard/Snapshot.ts"

const cookie = "codex_pooler_admin"
const formLimit = 4096

const securityHeaders = {
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
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

// Behind a TLS-terminating proxy the browser spoke https, so the cookie must never travel over plain http.
const cookieOptions = (request: HttpServerRequest.HttpServerRequest) => ({
  httpOnly: true,
  sameSite: "strict",
  path: "/admin",
  secure: request.headers["x-forwarded-proto"]?.split(",")[0]?.trim().toLowerCase() === "https"
} as const)

const mediaType = (contentType: string | undefined) => contentType?.split(";")[0]?.trim().toLowerCase()

// A read-only page for operators: an operator token of either scope, as a bearer header (scripts) or the cookie the
// sign-in form sets (browsers). The cookie holds the token itself, so revoking the token signs the browser out.
const routes = Effect.gen(function*() {
  const tokens = yield* OperatorTokens
  const snapshot = yield* makeSnapshot

  const show = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const bearer = bearerOf(request.headers["authorization"])
      const token = bearer ?? request.cookies[cookie]
      if (token === undefined) return signIn(401)
      const verified = yield* Effect.either(tokens.verify(token))
      if (Either.isRight(verified)) return page(200, dashboardPage(yield* snapshot))
      const refused = signIn(401, verified.left.message)
      return bearer === undefined ? HttpServerResponse.expireCookie(refused, cookie, cookieOptions(request)) : refused
    })

  const login = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
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
      // A verified token has the shape cpo_<hex>_<base64url>, which is a valid cookie value as it is.
      return HttpServerResponse.unsafeSetCookie(toDashboard, cookie, token, cookieOptions(request))
    })

  const logout = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.succeed(HttpServerResponse.expireCookie(toDashboard, cookie, cookieOptions(request)))

  return [
    HttpLayerRouter.route("GET", "/admin", show),
    HttpLayerRouter.route("POST", "/admin/login", login),
    HttpLayerRouter.route("POST", "/admin/logout", logout)
  ]
})

export const DashboardRoutes = HttpLayerRouter.addAll(routes).pipe(
  Layer.provide([
    OperatorTokens.Default,
    Activity.Default,
    Pools.Default,
    Accounts.Default,
    Quota.Default,
    FleetRepo.Default
  ])
)
