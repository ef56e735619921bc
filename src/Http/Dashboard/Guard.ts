import type { HttpServerRequest } from "@effect/platform"
import { SESSION_LIFETIME_SECONDS } from "../../DashboardSessions.ts"

export const cookie = "codex_pooler_admin"

export const cookieOptions = (secure: boolean) => ({
  httpOnly: true,
  sameSite: "strict",
  path: "/admin",
  secure,
  maxAge: `${SESSION_LIFETIME_SECONDS} seconds`
} as const)

const parse = (url: string) => URL.canParse(url) ? new URL(url) : undefined

// A browser names the page a form was posted from in `Origin` (on every POST, same-origin ones included), and the
// page cannot forge it. The gateway's own origin is the one the browser addressed, its `Host`; the scheme is left
// out of the comparison because a TLS-terminating proxy makes it differ. A missing or opaque ("null") Origin is
// refused: no browser that can hold the cookie leaves it out of a form post, and a script has the bearer header.
export const sameOrigin = (request: HttpServerRequest.HttpServerRequest): boolean => {
  const origin = parse(request.headers["origin"] ?? "")
  const host = request.headers["host"]
  if (origin === undefined || host === undefined) return false
  if (origin.protocol !== "http:" && origin.protocol !== "https:") return false
  const addressed = parse(`${origin.protocol}//${host}`)
  return addressed !== undefined && addressed.host === origin.host && addressed.pathname === "/" &&
    addressed.username === "" && addressed.password === ""
}
