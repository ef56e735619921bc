import { Clock, Effect, Option } from "effect"
import type { AccountCredentials } from "../AccountCredentials.ts"
import type { AccountHealth } from "../AccountHealth.ts"
import { accountHeaders } from "../Proxy/Headers.ts"
import { readSmallBody } from "../Proxy/Json.ts"
import type { Quota } from "../Quota.ts"
import type { UpstreamClient } from "../UpstreamClient.ts"
import { fromUsagePayload, resetCreditsOf } from "./Evidence.ts"

// One call of an account's own on upstream's backend API (`/wham/…`, what Codex's `/status` and reset credits use)
// with its token, refreshed once on a 401: the status and the answer's JSON (small; read up to the error-body bound).
export const askBackend = (
  credentials: AccountCredentials,
  upstream: UpstreamClient.Service,
  accountId: string,
  request: { readonly method: "GET" | "POST"; readonly path: string; readonly json?: unknown }
) =>
  Effect.gen(function*() {
    const body = request.json === undefined ? undefined : Buffer.from(JSON.stringify(request.json))
    const response = yield* credentials.withCredential(
      accountId,
      (credential) =>
        upstream.send({
          method: request.method,
          base: "backend",
          path: request.path,
          headers: {
            accept: "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
            ...accountHeaders(credential)
          },
          ...(body === undefined ? {} : { body })
        }),
      (sent) => sent._tag === "Right" && sent.right.status === 401
    )
    const { json } = yield* readSmallBody(response.body)
    return { status: response.status, json } as const
  }).pipe(Effect.scoped)

// One account's usage (GET {backend}/wham/usage, what Codex's `/status` reads): the answer as it came and what it
// says of the account's windows when it is understood. For the usage poll and for the Pool's usage answer.
export const askUsage = (
  credentials: AccountCredentials,
  upstream: UpstreamClient.Service,
  accountId: string
) =>
  Effect.gen(function*() {
    const askedAt = new Date(yield* Clock.currentTimeMillis)
    const { json, status } = yield* askBackend(credentials, upstream, accountId, { method: "GET", path: "/wham/usage" })
    const report = status === 200 ? fromUsagePayload(json, askedAt) : Option.none()
    return { status, json, report, askedAt } as const
  })

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
