import { Effect } from "effect"
import { OperatorTokens } from "../../src/OperatorTokens.ts"
import { gatewayUrl } from "./Gateway.ts"
import { send } from "./Requests.ts"

// The gateway's codex_pooler_requests_in_flight for one route, scraped from /metrics.
export const inFlight = (route: string) =>
  Effect.gen(function*() {
    const { token } = yield* (yield* OperatorTokens).create({ scope: "read" })
    const url = yield* gatewayUrl
    const scraped = yield* send(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    const line = scraped.text.split("\n").find((text) =>
      text.startsWith("codex_pooler_requests_in_flight{") && text.includes(`route="${route}"`)
    )
    return Number(line?.split(" ").at(-1) ?? 0)
  })
