import { HttpLayerRouter, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Either, Layer, Option } from "effect"
import { Accounts } from "../Accounts.ts"
import { Activity } from "../Activity.ts"
import { CookieSecure } from "../Config.ts"
import { csrfMatches, type DashboardSession, DashboardSessions } from "../DashboardSessions.ts"
import { Actor } from "../Domain/Actor.ts"
import { bearerOf } from "../Domain/Bearer.ts"
import { FleetRepo } from "../Mcp/FleetRepo.ts"
import { OperatorTokens } from "../OperatorTokens.ts"
import { PoolKeys } from "../PoolKeys.ts"
import { Pools } from "../Pools.ts"
import { Quota } from "../Quota.ts"
import { ResetCredits } from "../ResetCredits.ts"
import { SignIns } from "../SignIns.ts"
import * as UpstreamClient from "../UpstreamClient.ts"
import { type Action, doneMessage, makeActions, statusOf } from "./Dashboard/Actions.ts"
import { keyCreatedPage, refusedPage, signInPage } from "./Dashboard/Controls.ts"
import { field, readForm } from "./Dashboard/Form.ts"
import { cookie, cookieOptions, sameOrigin } from "./Dashboard/Guard.ts"
import { loginPage } from "./Dashboard/Html.ts"
import { dashboardPage, type View } from "./Dashboard/Page.ts"
import { type ActionName, actionPaths, signInPath } from "./Dashboard/Paths.ts"
import { emptyFilters, parseFilters, requestLogPage, requestLogPath } from "./Dashboard/Requests.ts"
import { makeSnapshot } from "./Dashboard/Snapshot.ts"

const signInLimit = 4096
// Room for a long model allow-list in the limits form; the other forms are far smaller.
const actionLimit = 16_384

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

const refused = (status: number, message: string) => page(status, refusedPage(message))

// The page after an action: the action's name and target, from which the result line is built again.
const resultOf = (request: HttpServerRequest.HttpServerRequest): View["notice"] => {
  const query = new URL(request.url, "http://gateway").searchParams
  const text = doneMessage(query.get("done") ?? "", query.get("target") ?? "")
  return text === undefined ? undefined : { ok: true, text }
}

// A page for operators: an operator token of either scope, as a bearer header (scripts, read-only), or a browser
// session the sign-in form starts. The session's cookie is a random id, never the token; revoking the token ends it.
// An admin token's session also acts, through the forms its page carries.
const routes = Effect.gen(function*() {
  const tokens = yield* OperatorTokens
  const sessions = yield* DashboardSessions
  const snapshot = yield* makeSnapshot
  const actions = yield* makeActions
  const signIns = yield* SignIns
  const activity = yield* Activity
  const options = cookieOptions(yield* CookieSecure)

  const signedOut = (response: HttpServerResponse.HttpServerResponse) =>
    HttpServerResponse.expireCookie(response, cookie, options)

  const ended = signedOut(signIn(401, "The session has ended; sign in again."))
  const crossOrigin = signIn(403, "The form was not sent from this gateway's own page.")
  const viewOf = (session: DashboardSession): View =>
    session.scope === "admin" ? { signOut: session.csrf, controls: { csrf: session.csrf } } : { signOut: session.csrf }

  // The live session the cookie names, with its id; otherwise the answer to give instead (sign in; it has ended).
  const sessionOf = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const id = request.cookies[cookie]
      if (id === undefined) return Either.left(signIn(401))
      const session = yield* sessions.check(id)
      return Option.isNone(session) ? Either.left(ended) : Either.right({ ...session.value, id })
    })

  const readScope = refused(403, "This operator token has the read scope: actions need an admin token.")
  // What an admin session does, it does as its operator token: the audit log's actor, as for its MCP calls.
  const asOperator = <A, E>(session: DashboardSession, effect: Effect.Effect<A, E, Actor>) =>
    Effect.provideService(effect, Actor, { kind: "operator_token", id: session.operatorTokenId })

  // Who may look: an operator token as a bearer (no forms), or a live session; otherwise the answer to give instead.
  const viewer = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const bearer = bearerOf(request.headers["authorization"])
      if (bearer === undefined) return Either.map(yield* sessionOf(request), viewOf)
      const verified = yield* Effect.either(tokens.verify(bearer))
      return Either.isRight(verified) ? Either.right<View>({}) : Either.left(signIn(401, verified.left.message))
    })

  const show = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const view = yield* viewer(request)
      if (Either.isLeft(view)) return view.left
      return page(200, dashboardPage(yield* snapshot, { ...view.right, notice: resultOf(request) }))
    })

  // The request log with its filters and pages, for whoever may see the dashboard.
  const requestLog = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const view = yield* viewer(request)
      if (Either.isLeft(view)) return view.left
      const parsed = parseFilters(request.url)
      if (Either.isLeft(parsed)) return page(400, requestLogPage(emptyFilters, null, parsed.left.message))
      const found = yield* Effect.either(activity.requests(parsed.right.query))
      return Either.isLeft(found)
        ? page(400, requestLogPage(parsed.right.filters, null, found.left.message))
        : page(200, requestLogPage(parsed.right.filters, found.right))
    })

  const login = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      if (!sameOrigin(request)) return crossOrigin
      const form = yield* readForm(request, signInLimit)
      if (Either.isLeft(form)) return signIn(form.left.status, `The sign-in form ${form.left.message}.`)
      const token = field(form.right, "token")
      const verified = yield* Effect.either(tokens.verify(token))
      if (Either.isLeft(verified)) return signIn(401, verified.left.message)
      // A session id is 43 base64url characters, a valid cookie value as it is.
      const session = yield* sessions.start(verified.right.id)
      return HttpServerResponse.unsafeSetCookie(toDashboard, cookie, session, options)
    })

  // Sign-out is a post like any other: its Origin, and for a live session that session's CSRF token (a page of another
  // site cannot sign an operator out). A cookie naming no live session is simply cleared.
  const logout = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      if (!sameOrigin(request)) return crossOrigin
      const session = yield* sessionOf(request)
      if (Either.isRight(session)) {
        const form = yield* readForm(request, signInLimit)
        if (Either.isLeft(form) || !csrfMatches(session.right.csrf, field(form.right, "csrf"))) {
          return refused(
            403,
            "The sign-out form's CSRF token is missing or not this session's: reload the page and retry."
          )
        }
        yield* sessions.end(session.right.id)
      }
      return signedOut(toDashboard)
    })

  // Origin first, then the session, its CSRF token and its scope; only then is anything done, as the session's
  // operator token (the audit log's actor, as for its MCP calls). A refusal changes nothing.
  const act = (action: Action) => (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      if (!sameOrigin(request)) return refused(403, "The form was not sent from this gateway's own page.")
      const live = yield* sessionOf(request)
      if (Either.isLeft(live)) return live.left
      const session = live.right
      const form = yield* readForm(request, actionLimit)
      if (Either.isLeft(form)) return refused(form.left.status, `The form ${form.left.message}.`)
      if (!csrfMatches(session.csrf, field(form.right, "csrf"))) {
        return refused(403, "The form's CSRF token is missing or not this session's: reload the dashboard and retry.")
      }
      if (session.scope !== "admin") return readScope
      const outcome = yield* Effect.either(asOperator(session, action(form.right)))
      if (Either.isLeft(outcome)) {
        const notice = { ok: false, text: outcome.left.message }
        return page(statusOf(outcome.left), dashboardPage(yield* snapshot, { ...viewOf(session), notice }))
      }
      if (outcome.right._tag === "KeyCreated") return page(200, keyCreatedPage(outcome.right))
      if (outcome.right._tag === "SignInStarted") {
        const query = new URLSearchParams({ id: outcome.right.signInId })
        return HttpServerResponse.redirect(`${signInPath}?${query}`, { status: 303, headers: securityHeaders })
      }
      const query = new URLSearchParams({ done: outcome.right.action, target: outcome.right.target })
      return HttpServerResponse.redirect(`/admin?${query}`, { status: 303, headers: securityHeaders })
    })

  // A device sign-in started here, followed until it ends: each load polls it once (the page reloads itself while it
  // waits), as the session's operator token.
  const followSignIn = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const live = yield* sessionOf(request)
      if (Either.isLeft(live)) return live.left
      if (live.right.scope !== "admin") return readScope
      const signInId = new URL(request.url, "http://gateway").searchParams.get("id") ?? ""
      const polled = yield* Effect.either(asOperator(live.right, signIns.pollDevice(signInId)))
      if (Either.isLeft(polled)) {
        return page(polled.left._tag === "SignInFailed" ? 400 : 409, signInPage({ failed: polled.left.message }))
      }
      if (polled.right.status === "done") {
        return page(200, signInPage({ account: polled.right.account }))
      }
      return page(200, signInPage({ waiting: yield* signIns.describe(signInId) }))
    }).pipe(
      Effect.catchTag("SignInFailed", (failed) => Effect.succeed(page(400, signInPage({ failed: failed.message }))))
    )

  const names = Object.keys(actionPaths).filter((name): name is ActionName => Object.hasOwn(actions, name))
  return [
    HttpLayerRouter.route("GET", "/admin", show),
    HttpLayerRouter.route("GET", requestLogPath, requestLog),
    HttpLayerRouter.route("POST", "/admin/login", login),
    HttpLayerRouter.route("POST", "/admin/logout", logout),
    HttpLayerRouter.route("GET", signInPath, followSignIn),
    ...names.map((name) => HttpLayerRouter.route("POST", actionPaths[name], act(actions[name])))
  ]
})

export const DashboardRoutes = HttpLayerRouter.addAll(routes).pipe(
  Layer.provide([
    OperatorTokens.Default,
    DashboardSessions.Default,
    Activity.Default,
    Pools.Default,
    Accounts.Default,
    PoolKeys.Default,
    Quota.Default,
    FleetRepo.Default,
    SignIns.Default,
    ResetCredits.Default.pipe(Layer.provide(UpstreamClient.layer))
  ])
)
