import { Clock, Effect, Option } from "effect"
import type { AccountCredentials } from "../AccountCredentials.ts"
import { accountHeaders } from "../Proxy/Headers.ts"
import { readSmallBody } from "../Proxy/Json.ts"
import type { UpstreamClient } from "../UpstreamClient.ts"
import { fromUsagePayload } from "./Evidence.ts"

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
    const { bytes, json } = yield* readSmallBody(response.body)
    const report = response.status === 200 ? fromUsagePayload(json, askedAt) : Option.none()
    return { status: response.status, bytes, json, report, askedAt } as const
  }).pipe(Effect.scoped)
