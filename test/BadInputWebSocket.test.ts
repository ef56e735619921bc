import { describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import {
  announceSeeds,
  assertProperty,
  badInputGateway,
  caseTimeoutMs,
  fixedSeed,
  type Fixture,
  fixtureOnce,
  freshSeed,
  upstreamDuring
} from "./support/BadInput.ts"
import { checkAftermath, checkCase } from "./support/BadInputChecks.ts"
import { frameCases, handshakeCases, type WsCase } from "./support/BadInputFrames.ts"
import { runSession } from "./support/BadInputWebSocket.ts"
import { backends } from "./support/Databases.ts"

// Property-based: hostile websocket handshakes, and raw frames that break RFC 6455 or the Codex protocol after a good
// handshake, against a running gateway. Each session must end (a close frame or the connection's end) within the bound
// after the client's own close, never with 1011 and never with an error escaping every handler; upstream never gets a
// frame that is not a JSON object, a model the key forbids, or anything from a handshake that had to be refused. After
// the runs no upstream socket is left open, every row is closed, and the gateway still serves.

announceSeeds("websocket")

const numRuns = 50

// Frames upstream receives are put down to the case that ran while they arrived, so a case ends once its upstream
// sockets are gone (or a short bound passed: a leak is reported afterwards). Upgrades carry the case's id.
const quiet = (setup: Fixture) => setup.fake.waitFor(() => setup.fake.openSockets() === 0, 3_000).catch(() => undefined)

const session = async (setup: Fixture, input: WsCase) => {
  const result = await runSession(setup.port, input.plan, caseTimeoutMs)
  await quiet(setup)
  return result
}

const property = (setup: Fixture) => async (input: WsCase) => {
  const { result, upstream } = await upstreamDuring(setup.fake, () => session(setup, input))
  const text = `${result.head}\r\n\r\n${result.frames.texts.join("\n")}`
  const observed = { outcome: result.outcome, status: result.status, text, closeCode: result.frames.closeCode }
  checkCase(setup, observed, upstream, {
    refusedBeforeUpstream: input.refusedBeforeUpstream,
    answerRefused: input.refusedBeforeUpstream,
    why: input.why,
    own: (request) => request.kind === "http" || request.headers["x-client-request-id"] === input.caseId
  })
}

describe.each(backends)("bad websocket input on %s", (backend) => {
  layer(badInputGateway(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    const setup = fixtureOnce()
    const run = (cases: (key: string) => ReturnType<typeof frameCases>, seed: number) =>
      Effect.flatMap(setup, (fixture) => assertProperty(cases(fixture.pool.key), property(fixture), numRuns, seed))

    it.effect("handshakes, fixed seed", () => run(handshakeCases, fixedSeed), { timeout: 300_000 })
    it.effect("handshakes, fresh seed", () => run(handshakeCases, freshSeed), { timeout: 300_000 })
    it.effect("frames after a good handshake, fixed seed", () => run(frameCases, fixedSeed), { timeout: 300_000 })
    it.effect("frames after a good handshake, fresh seed", () => run(frameCases, freshSeed), { timeout: 300_000 })

    it.effect(
      "afterwards: no upstream socket open, no row in progress, no secret in the logs, still serving",
      () => Effect.flatMap(setup, (fixture) => checkAftermath(fixture, { upstreamSockets: true })),
      { timeout: 60_000 }
    )
  })
})
