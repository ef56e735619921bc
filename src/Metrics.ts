import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import * as Prom from "prom-client"

const prefix = "codex_pooler_"

const seconds = (value: number) => Number.isFinite(value) ? Math.max(0, value) : 0

// Seconds, from a fast answer to a long Codex turn.
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]

export interface RequestEnd {
  readonly route: string
  readonly transport: string
  readonly outcome: string
  readonly seconds: number
  readonly firstByteSeconds: number | null
  // by kind: input, cached_input, output, reasoning
  readonly tokens: Readonly<Record<string, number | null>>
}

// What one instance has done, plus what the database says of the Pools' accounts at scrape time, in Prometheus'
// text format (GET /metrics). Labels carry ids and slugs only: never an e-mail, a key, a token or a body.
export class Metrics extends Effect.Service<Metrics>()("Gateway/Metrics", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // A registry per instance (not prom-client's global one), so instances in one process do not mix.
    const registry = new Prom.Registry()
    const registers = [registry]
    Prom.collectDefaultMetrics({ register: registry, prefix })

    const requests = new Prom.Counter({
      name: `${prefix}requests_total`,
      help: "Requests relayed to upstream (one per websocket response.create), by how they ended.",
      labelNames: ["route", "transport", "outcome"] as const,
      registers
    })
    const inFlight = new Prom.Gauge({
      name: `${prefix}requests_in_flight`,
      help: "Requests this instance is relaying now.",
      labelNames: ["route", "transport"] as const,
      registers
    })
    const duration = new Prom.Histogram({
      name: `${prefix}request_duration_seconds`,
      help: "From admission to the last byte.",
      labelNames: ["route", "transport"] as const,
      buckets: durationBuckets,
      registers
    })
    const firstByte = new Prom.Histogram({
      name: `${prefix}time_to_first_byte_seconds`,
      help: "From admission to upstream's first byte on its way to the client.",
      labelNames: ["route", "transport"] as const,
      buckets: durationBuckets,
      registers
    })
    const tokens = new Prom.Counter({
      name: `${prefix}tokens_total`,
      help: "Tokens upstream reported for completed responses.",
      labelNames: ["kind"] as const,
      registers
    })
    const attempts = new Prom.Counter({
      name: `${prefix}upstream_attempts_total`,
      help: "Attempts on an account; 'retried' means the request moved to another account or tried again.",
      labelNames: ["outcome"] as const,
      registers
    })
    const gatewayErrors = new Prom.Counter({
      name: `${prefix}gateway_errors_total`,
      help:
        "Error answers the gateway made itself rather than relayed (bad key, key limits, no account, bad input), by code.",
      labelNames: ["status", "code"] as const,
      registers
    })
    const refreshes = new Prom.Counter({
      name: `${prefix}token_refreshes_total`,
      help: "Upstream access-token refreshes, by reason and result.",
      labelNames: ["reason", "result"] as const,
      registers
    })
    const redemptions = new Prom.Counter({
      name: `${prefix}reset_redemptions_total`,
      help: "Saved usage-limit resets redeemed on upstream, by upstream's answer (or failed), and who asked.",
      labelNames: ["outcome", "via"] as const,
      registers
    })
    const usagePolls = new Prom.Counter({
      name: `${prefix}usage_polls_total`,
      help: "Usage polls of upstream, by result.",
      labelNames: ["result"] as const,
      registers
    })
    const websockets = new Prom.Gauge({
      name: `${prefix}websockets_open`,
      help: "Client websockets this instance is bridging now.",
      registers
    })
    const accounts = new Prom.Gauge({
      name: `${prefix}pool_accounts`,
      help:
        "Accounts of each Pool by state: active, paused, reauth_required; resting (usage limit) and circuit_open count active ones.",
      labelNames: ["pool", "state"] as const,
      registers
    })
    const quota = new Prom.Gauge({
      name: `${prefix}account_quota_used_percent`,
      help: "The latest reported use of each account's Codex windows (primary, secondary).",
      labelNames: ["account", "window"] as const,
      registers
    })

    const resetCredits = new Prom.Gauge({
      name: `${prefix}account_reset_credits`,
      help: "Saved usage-limit resets of each account, as upstream last reported them.",
      labelNames: ["account"] as const,
      registers
    })
    const poolResetCredits = new Prom.Gauge({
      name: `${prefix}pool_reset_credits`,
      help: "Saved usage-limit resets of each Pool's active accounts, summed.",
      labelNames: ["pool"] as const,
      registers
    })

    const instances = new Prom.Gauge({
      name: `${prefix}instances`,
      help: "Gateway instances beating on the shared database.",
      registers
    })

    // A metric never fails its caller (accounting runs beside it): prom-client throws on a value it cannot take, and
    // such an update is dropped, logged at debug. Each update stands alone, so one bad value loses only itself.
    const sync = (...updates: ReadonlyArray<() => void>) =>
      Effect.forEach(updates, (update) => {
        try {
          update()
          return Effect.void
        } catch (error) {
          return Effect.logDebug("metric not updated", error instanceof Error ? error.message : String(error))
        }
      }, { discard: true })

    // Read at scrape time from the shared database, so every instance reports the same Pool state.
    const readPools = Effect.gen(function*() {
      const states = yield* sql<{ readonly pool: string; readonly state: string; readonly count: string }>`
        SELECT p.slug AS pool, s.state, count(*) AS count
        FROM pools p JOIN pool_accounts pa ON pa.pool_id = p.id JOIN accounts a ON a.id = pa.account_id
          LEFT JOIN account_health h ON h.account_id = a.id
          CROSS JOIN LATERAL (VALUES (a.status),
            (CASE WHEN a.status = 'active' AND h.cooldown_until > now() THEN 'resting' END),
            (CASE WHEN a.status = 'active' AND h.circuit_state <> 'closed' THEN 'circuit_open' END)) AS s (state)
        WHERE s.state IS NOT NULL
        GROUP BY p.slug, s.state`
      const windows = yield* sql<{ readonly account: string; readonly window: string; readonly usedPercent: number }>`
        SELECT account_id AS account, window_kind AS window, used_percent FROM account_quota
        WHERE limit_name = 'codex' AND (resets_at IS NULL OR resets_at > now())`
      const credits = yield* sql<{ readonly account: string; readonly resetCredits: number }>`
        SELECT account_id AS account, reset_credits FROM account_health WHERE reset_credits IS NOT NULL`
      const pooledCredits = yield* sql<{ readonly pool: string; readonly resetCredits: string }>`
        SELECT p.slug AS pool, sum(h.reset_credits) AS reset_credits
        FROM pools p JOIN pool_accounts pa ON pa.pool_id = p.id JOIN accounts a ON a.id = pa.account_id
          JOIN account_health h ON h.account_id = a.id
        WHERE a.status = 'active' AND h.reset_credits IS NOT NULL
        GROUP BY p.slug`
      const [live] = yield* sql<{ readonly count: string }>`
        SELECT count(*) AS count FROM instances WHERE heartbeat_at > now() - interval '1 minute'`
      instances.set(Number(live?.count ?? 0))
      accounts.reset()
      for (const row of states) accounts.set({ pool: row.pool, state: row.state }, Number(row.count))
      quota.reset()
      for (const row of windows) quota.set({ account: row.account, window: row.window }, row.usedPercent)
      resetCredits.reset()
      for (const row of credits) resetCredits.set({ account: row.account }, row.resetCredits)
      poolResetCredits.reset()
      for (const row of pooledCredits) poolResetCredits.set({ pool: row.pool }, Number(row.resetCredits))
    })

    const render = readPools.pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("metrics could not read the pools", cause)),
      Effect.zipRight(Effect.promise(() => registry.metrics()))
    )

    return {
      contentType: registry.contentType,
      render,
      requestStarted: (route: string, transport: string) => sync(() => inFlight.inc({ route, transport })),
      // A request whose end was never reported: out of the gauge, counted nowhere else.
      requestAbandoned: (route: string, transport: string) => sync(() => inFlight.dec({ route, transport })),
      requestEnded: (end: RequestEnd) =>
        sync(
          () => inFlight.dec({ route: end.route, transport: end.transport }),
          () => requests.inc({ route: end.route, transport: end.transport, outcome: end.outcome }),
          () => duration.observe({ route: end.route, transport: end.transport }, seconds(end.seconds)),
          () => {
            if (end.firstByteSeconds === null) return
            firstByte.observe({ route: end.route, transport: end.transport }, seconds(end.firstByteSeconds))
          },
          ...Object.entries(end.tokens).map(([kind, count]) => () => {
            if (count !== null && Number.isFinite(count) && count > 0) tokens.inc({ kind }, count)
          })
        ),
      attemptEnded: (outcome: string) => sync(() => attempts.inc({ outcome })),
      // One of the gateway's own error answers (src/Proxy/ErrorResponse.ts `errorAnswer`).
      gatewayError: (
        answer: { readonly status: number; readonly body: { readonly error: { readonly code: string } } }
      ) => sync(() => gatewayErrors.inc({ status: String(answer.status), code: answer.body.error.code })),
      refreshed: (reason: string, result: string) => sync(() => refreshes.inc({ reason, result })),
      usagePolled: (result: "ok" | "refused" | "failed") => sync(() => usagePolls.inc({ result })),
      resetRedeemed: (outcome: string, via: string) => sync(() => redemptions.inc({ outcome, via })),
      websocketOpened: sync(() => websockets.inc()),
      websocketClosed: sync(() => websockets.dec())
    } as const
  })
}) {}
