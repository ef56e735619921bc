import { SqlClient } from "@effect/sql"
import { Effect, Schedule } from "effect"
import { expect } from "vitest"
import type { RecordedRequest } from "../FakeUpstream/FakeUpstream.ts"
import {
  allowedModel,
  caseStart,
  caseTimeoutMs,
  escaped,
  type Fixture,
  forbiddenModel,
  logLines,
  maxBodyBytes,
  secretsOf
} from "./BadInput.ts"
import { gatewayUrl, postResponses } from "./Gateway.ts"
import { send } from "./Requests.ts"

// The invariants of the bad-input suites: those of each case, and those of the gateway once a run has settled.

const rssBoundBytes = 500 * 1024 * 1024
const mebibytes = (bytes: number) => Math.round(bytes / 1048576)

export interface Observed {
  readonly outcome: string
  readonly status: number | undefined
  readonly text: string
  readonly closeCode?: number | undefined
}

export interface Rules {
  // The case must not reach upstream at all, because `why`.
  readonly refusedBeforeUpstream: boolean
  readonly why: string
  // Nor be answered with a success.
  readonly answerRefused?: boolean
  // Which of upstream's records the refusal is about (all of them unless told).
  readonly own?: (request: RecordedRequest) => boolean
}

// Bodies nest deeper than JSON.stringify recurses; such a one is measured by its raw size alone.
const encoded = (value: unknown) => {
  try {
    return JSON.stringify(value ?? null)
  } catch {
    return ""
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

// What upstream must never be sent, whatever the client wrote: a model the key does not allow, a websocket frame that
// is not a JSON object, anything over the body limit.
const forwardedWrongly = (request: RecordedRequest): ReadonlyArray<string> => {
  const broken: Array<string> = []
  const body = request.body
  const gated = request.kind === "http"
    ? request.path !== "/backend-api/codex/realtime/calls"
    : isRecord(body) && body["type"] === "response.create"
  const model = isRecord(body) ? body["model"] : undefined
  const forbidden = typeof model === "string"
    ? model !== allowedModel
    : encoded(model).includes(forbiddenModel)
  if (gated && forbidden) {
    broken.push(`model ${JSON.stringify(model)} reached upstream although the key allows only ${allowedModel}`)
  }
  if (request.kind === "ws-in" && !isRecord(body)) {
    broken.push("a websocket frame that is not a JSON object reached upstream")
  }
  const size = request.rawBody?.length ?? encoded(body).length
  if (size > maxBodyBytes) broken.push(`${size} bytes reached upstream, over the ${maxBodyBytes} byte limit`)
  return broken
}

const preview = (text: string) => JSON.stringify(text.length > 400 ? `${text.slice(0, 400)}…` : text)

// The invariants of one case; `upstream` is what the fake saw while it ran. Throws a readable list when broken.
export const checkCase = (
  fixture: Fixture,
  observed: Observed,
  upstream: ReadonlyArray<RecordedRequest>,
  rules: Rules
) => {
  const broken: Array<string> = []
  if (rules.answerRefused === true && observed.status !== undefined && observed.status < 400) {
    broken.push(`answered ${observed.status} although ${rules.why}`)
  }
  if (observed.outcome === "timeout") broken.push(`no answer and no close within ${caseTimeoutMs} ms`)
  if (observed.status !== undefined && observed.status >= 500) broken.push(`answered ${observed.status}`)
  if (observed.closeCode === 1011) broken.push("websocket closed with 1011 (internal error)")
  for (const secret of secretsOf(fixture)) {
    if (observed.text.includes(secret)) broken.push(`answer contains a secret (${secret.slice(0, 6)}…)`)
  }
  const own = upstream.filter(rules.own ?? (() => true))
  if (rules.refusedBeforeUpstream && own.length > 0) {
    const seen = own.map((request) => `${request.kind} ${request.method} ${request.path}`).join(", ")
    broken.push(`reached upstream (${seen}) although ${rules.why}`)
  }
  for (const request of upstream) broken.push(...forwardedWrongly(request))
  const grown = process.memoryUsage().rss - caseStart.rss
  if (grown > rssBoundBytes) broken.push(`rss grew by ${mebibytes(grown)} MB during this case`)
  if (escaped.length > 0) broken.push(`an error escaped every handler: ${escaped.splice(0).join("; ")}`)
  if (broken.length > 0) {
    const answer = `${observed.outcome} ${observed.status ?? "-"} ${preview(observed.text)}`
    throw new Error(`${broken.join("; ")}\n  answer: ${answer}`)
  }
}

const inProgress = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql`SELECT route, transport FROM requests WHERE status = 'in_progress'`
)

const openUpstreamSockets = (fixture: Fixture) =>
  Effect.promise(() =>
    fixture.fake.waitFor(() => fixture.fake.openSockets() === 0, 15_000).then(() => 0, () => fixture.fake.openSockets())
  )

// After the runs: memory back within the bound, no upstream socket left open (when the suite opens any), every row
// closed after a short settle, no secret in any log line, and the gateway still serving.
export const checkAftermath = (fixture: Fixture, options: { readonly upstreamSockets?: boolean } = {}) =>
  Effect.gen(function*() {
    const upstreamSocketsOpen = options.upstreamSockets === true ? yield* openUpstreamSockets(fixture) : 0
    const open = yield* inProgress.pipe(
      Effect.filterOrFail((rows) => rows.length === 0),
      Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("15 seconds"))),
      Effect.orElse(() => inProgress)
    )
    const leaked = secretsOf(fixture).filter((secret) => logLines.some((line) => line.includes(secret)))
    const health = yield* send(`${yield* gatewayUrl}/healthz`)
    const turn = yield* postResponses(fixture.pool.key)
    expect({
      rssGrowthOverBoundMb: Math.max(0, mebibytes(process.memoryUsage().rss - fixture.rssStart - rssBoundBytes)),
      upstreamSocketsOpen,
      rowsInProgress: open.map((row) => `${String(row["route"])}/${String(row["transport"])}`),
      secretsInLogs: leaked.map((secret) => `${secret.slice(0, 6)}…`),
      healthz: health.status,
      codexTurn: turn.status,
      escaped: escaped.splice(0)
    }).toEqual({
      rssGrowthOverBoundMb: 0,
      upstreamSocketsOpen: 0,
      rowsInProgress: [],
      secretsInLogs: [],
      healthz: 200,
      codexTurn: 200,
      escaped: []
    })
  })
