import { Clock, Effect, Option } from "effect"
import { randomBytes } from "node:crypto"
import { SessionsRepo } from "./DashboardSessions/SessionsRepo.ts"
import { hashSecret } from "./Domain/Secret.ts"

export const SESSION_LIFETIME_SECONDS = 12 * 60 * 60
const IDLE_SECONDS = 30 * 60
// A page that reloads every 15 s need not write on each load; idle time is measured to within this.
const TOUCH_EVERY_MS = 60_000
const PER_TOKEN = 32

const sessionId = /^[A-Za-z0-9_-]{43}$/

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

    // The operator token id of a live session.
    const check = Effect.fn("DashboardSessions.check")(function*(id: string) {
      if (!sessionId.test(id)) return Option.none<string>()
      const idHash = hashSecret(id)
      const live = yield* repo.find(idHash, IDLE_SECONDS)
      if (Option.isNone(live)) return Option.none<string>()
      const idleMs = (yield* Clock.currentTimeMillis) - live.value.lastSeenAt.getTime()
      if (idleMs >= TOUCH_EVERY_MS) yield* repo.touch(idHash)
      return Option.some(live.value.operatorTokenId)
    })

    const end = Effect.fn("DashboardSessions.end")(function*(id: string) {
      if (sessionId.test(id)) yield* repo.remove(hashSecret(id))
    })

    return { start, check, end } as const
  }),
  dependencies: [SessionsRepo.Default]
}) {}
