import { Clock, Effect, Option } from "effect"
import type { AccountCredentials } from "../AccountCredentials.ts"
import type { AccountHealth } from "../AccountHealth.ts"
import { accountHeaders } from "../Proxy/Headers.ts"
import { readSmallBody } from "../Proxy/Json.ts"
import type { Quota } from "../Quota.ts"
import type { UpstreamClient } from "../UpstreamClient.ts"
import { fromUsagePayload, resetCreditsOf } from "./Evidence.ts"

// One account's usage, asked of upstream (GET {backend}/wham/usage, what Codex's `/status` reads) with its token,
// refreshed once on a 401: the answer as it came (small; read up to the error-body bound) and what it says of the
// account's windows when it is understood. For the usage poll and for the Pool's usage answer.
export const askUsage = (
  credentials: AccountCredentials,
  upstream: UpstreamClient.Service,
  accountId: string
) =>
  Effect.gen(function*() {
    const askedAt = new Date(yield* Clock.currentTimeMillis)
    const response = yield* credentials.withCredential(
      accountId,
      (credential) =>
        upstream.send({
          method: "GET",
          base: "backend",
          path: "/wham/usage",
          headers: { accept: "application/json", ...accountHeaders(credential) }
        }),
      (sent) => sent._tag === "Right" && sent.right.status === 401
    )
    const { json } = yield* readSmallBody(response.body)
    const report = response.status === 200 ? fromUsagePayload(json, askedAt) : Option.none()
    return { status: response.status, json, report, askedAt } as const
  }).pipe(Effect.scoped)

export type AskedUsage = Effect.Effect.Success<ReturnType<typeof askUsage>>

// What a usage answer (a 200) teaches is kept, whoever asked: its windows as the account's fresh quota, and its
// saved resets.
export const keepUsage = (quota: Quota, health: AccountHealth, accountId: string, asked: AskedUsage) =>
  Effect.gen(function*() {
    if (asked.status !== 200) return
    const credits = resetCreditsOf(asked.json)
    if (credits !== null) yield* health.observeResetCredits(accountId, credits, asked.askedAt)
    if (Option.isNone(asked.report)) return
    const windows = asked.report.value.windows.map((window) => ({ ...window, source: "poll" as const }))
    yield* quota.record(accountId, windows)
  })
