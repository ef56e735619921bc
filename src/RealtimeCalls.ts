import { Effect, Option } from "effect"
import { AccountUnavailable } from "./AccountCredentials/Errors.ts"
import { RealtimeCallNotFound } from "./Proxy/Errors.ts"
import { CallsRepo } from "./RealtimeCalls/CallsRepo.ts"

// A call id as upstream names it (`rtc_…`) and as Codex sends it back in `call_id`: a short token.
export const callIdPattern = /^[A-Za-z0-9_-]{1,128}$/

// A call is kept an hour: Codex joins right after making it (and retries a failed join for a few seconds), so an
// older binding would serve no join.
const callTtlSeconds = 60 * 60

// The call's id: the last segment of the `Location` path upstream answered (codex-protocol.md §8); null for anything
// else, which binds nothing (Codex refuses such an answer itself).
const callIdOf = (location: string | undefined) => {
  if (location === undefined || !URL.canParse(location, "http://upstream")) return null
  const segment = new URL(location, "http://upstream").pathname.split("/").at(-1) ?? ""
  return callIdPattern.test(segment) ? segment : null
}

export interface CallMaker {
  readonly poolId: string
  readonly accountId: string
  readonly keyId: string
}

// Which account holds each voice call made through the gateway. A call is bound in the database before its answer
// reaches Codex, so the sideband join that follows finds it on any instance; the join goes to that account or nowhere.
export class RealtimeCalls extends Effect.Service<RealtimeCalls>()("Gateway/RealtimeCalls", {
  effect: Effect.gen(function*() {
    const repo = yield* CallsRepo

    const bind = Effect.fn("RealtimeCalls.bind")(function*(location: string | undefined, maker: CallMaker) {
      const callId = callIdOf(location)
      if (callId !== null) yield* repo.bind({ ...maker, callId, ttlSeconds: callTtlSeconds })
    })

    // The account holding a live call of this Pool, as the database has it now (a paused account refuses the join at
    // once). Unknown, expired and another Pool's calls get the same answer, so a key cannot learn of other Pools'.
    const accountOf = Effect.fn("RealtimeCalls.accountOf")(function*(callId: string, poolId: string) {
      const found = yield* repo.find(callId, poolId)
      if (Option.isNone(found)) return yield* new RealtimeCallNotFound()
      const { accountId, accountStatus } = found.value
      if (accountStatus !== "active") return yield* new AccountUnavailable({ accountId, reason: "not_active" })
      return accountId
    })

    return { bind, accountOf } as const
  }),
  dependencies: [CallsRepo.Default]
}) {}
