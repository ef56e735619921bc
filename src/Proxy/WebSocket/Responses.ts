import { Effect, Fiber } from "effect"
import type { AccountHealth } from "../../AccountHealth.ts"
import type { Accounting } from "../../Accounting.ts"
import { newId } from "../../Domain/Ids.ts"
import type { Quota } from "../../Quota.ts"
import { usageFromRateLimitsEvent } from "../../Quota/Evidence.ts"
import { parseJson } from "../Json.ts"
import { emptyFacts, observeFrame, type StreamFacts } from "../SseTap.ts"

interface InFlight {
  readonly requestId: string
  readonly facts: StreamFacts
  // the row's insert; its outcome is written after it
  readonly recorded: Effect.Effect<void>
  firstByteAt: Date | null
}

const statusOf = (frame: string) => Number(/"status(?:_code)?"\s*:\s*(\d{3})/.exec(frame)?.[1] ?? 0) || null

// One accounting row per admitted `response.create` on a socket: opened as it is admitted, closed by the upstream
// event that ends that response (completed, failed, incomplete, or an error frame).
export const makeResponseLedger = (options: {
  readonly accounting: Accounting
  readonly quota: Quota
  readonly health: AccountHealth
  readonly poolId: string
  readonly keyId: string
  readonly accountId: string
  readonly run: (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void>
}) => {
  const queue: Array<InFlight> = []

  const finish = (
    flight: InFlight,
    status: "succeeded" | "failed" | "cancelled",
    errorCode: string | null,
    httpStatus: number
  ) =>
    options.run(Effect.zipRight(
      flight.recorded,
      options.accounting.complete(flight.requestId, 1, {
        accountId: options.accountId,
        status,
        httpStatus,
        errorCode,
        firstByteAt: flight.firstByteAt,
        usage: flight.facts.usage,
        upstreamRequestId: null
      })
    ))

  // A response.create's row (start and attempt 1) is the `record` its admission runs, or, for a key with no counted
  // limit, is written in the background. Either way its flight is queued before the frame goes upstream; a refused
  // one has neither.
  const open = <E>(model: string | null, admit: (record: Effect.Effect<void>) => Effect.Effect<boolean, E>) =>
    Effect.gen(function*() {
      const requestId = newId("req")
      const record = options.accounting.start({
        id: requestId,
        poolId: options.poolId,
        keyId: options.keyId,
        route: "responses",
        transport: "websocket",
        model
      }, { attempt: 1, accountId: options.accountId })
      const recorded = (yield* admit(record)) ? Effect.void : Fiber.join(options.run(record))
      queue.push({ requestId, facts: emptyFacts(), recorded, firstByteAt: null })
    })

  const fromUpstream = (data: Buffer, isBinary: boolean) => {
    const flight = queue[0]
    if (isBinary) return
    const facts = flight?.facts ?? emptyFacts()
    observeFrame(facts, data)
    if (facts.rateLimitEvents.length > 0) {
      const reports = facts.rateLimitEvents.map((event) => usageFromRateLimitsEvent(event, new Date()))
      facts.rateLimitEvents = []
      const windows = reports.flatMap((report) =>
        report.windows.map((window) => ({ ...window, source: "event" as const }))
      )
      options.run(options.quota.record(options.accountId, windows))
      // Upstream says the limit is reached: the account rests now, so the session's next reconnect lands elsewhere.
      for (const report of reports) {
        if (report.limitReached) options.run(options.health.observeLimit(options.accountId, report))
      }
    }
    if (flight === undefined) return
    flight.firstByteAt ??= new Date()
    if (facts.completed) finish(queue.shift() ?? flight, "succeeded", null, 200)
    else if (facts.errorCode !== null) {
      // A usage-limit error frame rests the account like the HTTP answer does (codex-protocol.md §5).
      if (facts.errorCode === "usage_limit_reached") {
        options.run(options.health.observeError(options.accountId, parseJson(data)))
      }
      finish(queue.shift() ?? flight, "failed", facts.errorCode, statusOf(data.toString("utf8")) ?? 200)
    }
  }

  // Responses still open when the socket ends were cut short, by the client or by upstream.
  const close = (by: "client" | "upstream" | "gateway") => {
    for (const flight of queue.splice(0)) {
      finish(flight, by === "client" ? "cancelled" : "failed", by === "client" ? "client_closed" : `${by}_closed`, 200)
    }
  }

  // No response under way: the socket can be closed without cutting one short.
  const idle = () => queue.length === 0

  return { open, fromUpstream, close, idle } as const
}
