import { Clock, Effect, Option } from "effect"
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { SessionsRepo } from "./DashboardSessions/SessionsRepo.ts"
import type { OperatorScope } from "./Domain/Models.ts"
import { hashSecret } from "./Domain/Secret.ts"

export const SESSION_LIFETIME_SECONDS = 12 * 60 * 60
const IDLE_SECONDS = 30 * 60
// A page that reloads every 15 s need not write on each load; idle time is measured to within this.
const TOUCH_EVERY_MS = 60_000
const PER_TOKEN = 32

const sessionId = /^[A-Za-z0-9_-]{43}$/

// A session's CSRF token is the HMAC of a fixed label keyed with its random id, not with a server secret: only the
// browser holding the (HttpOnly) cookie and the server reading it know that id, and the table keeps only its SHA-256,
// so nobody else can compute the token, while it is the same on every instance and across restarts and key
// rotations, with nothing more to store. A server secret would add nothing: whoever holds the id can load the page
// and read the token from its forms. The token does not reveal the id (HMAC is one-way).
export const csrfToken = (id: string): string =>
  createHmac("sha256", id).update("codex-pooler dashboard csrf v1").digest("base64url")

export const csrfMatches = (expected: string, given: string): boolean =>
  given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected))

export interface DashboardSession {
  readonly operatorTokenId: string
  readonly scope: OperatorScope
  readonly csrf: string
}

// Browser sign-ins to the dashboard. The cookie carries a random id (32 bytes), the table only its SHA-256: neither
// is the operator token, and a session ends at its expiry, after idling, on sign-out or with its token.
export class DashboardSessions extends Effect.Service<DashboardSessions>()("Gateway/DashboardSessions", {
  effect: Effect.gen(function*() {
    const repo = yield* SessionsRepo

    const start = Effect.fn("DashboardSessions.start")(function*(operatorTokenId: string) {
      const id = randomBytes(32).toString("base64url")
      yield* repo.create({
        idHash: hashSecret(id),
        operatorTokenId,
        lifetimeSeconds: SESSION_LIFETIME_SECONDS,
        idleSeconds: IDLE_SECONDS,
        perToken: PER_TOKEN
      })
      return id
    })

    // A live session: its operator token's id and scope, and its CSRF token.
    const check = Effect.fn("DashboardSessions.check")(function*(id: string) {
      if (!sessionId.test(id)) return Option.none<DashboardSession>()
      const idHash = hashSecret(id)
      const live = yield* repo.find(idHash, IDLE_SECONDS)
      if (Option.isNone(live)) return Option.none<DashboardSession>()
      const { lastSeenAt, operatorTokenId, scope } = live.value
      if ((yield* Clock.currentTimeMillis) - lastSeenAt.getTime() >= TOUCH_EVERY_MS) yield* repo.touch(idHash)
      return Option.some<DashboardSession>({ operatorTokenId, scope, csrf: csrfToken(id) })
    })

    const end = Effect.fn("DashboardSessions.end")(function*(id: string) {
      if (sessionId.test(id)) yield* repo.remove(hashSecret(id))
    })

    return { start, check, end } as const
  }),
  dependencies: [SessionsRepo.Default]
}) {}
