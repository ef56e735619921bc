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
import { type Focus, type HttpCase, httpCases } from "./support/BadInputHttp.ts"
import { backends } from "./support/Databases.ts"
import { rawRequest } from "./support/RawHttp.ts"

// Property-based: random and hostile HTTP requests (paths and methods, bodies and encodings, credentials and headers,
// one focus at a time) against a running gateway. Each case must get an answer or a close within the bound, never a
// 5xx, never a secret; a request that is not exactly a route with a valid key and a well-formed body never reaches
// upstream, nor does a model the key forbids.
// After the runs every request row is closed, no log line holds a secret, and the gateway still serves.

announceSeeds("http")

const property = (setup: Fixture) => async (input: HttpCase) => {
  const sent = () => rawRequest(setup.port, input.request, caseTimeoutMs)
  const { result, upstream } = await upstreamDuring(setup.fake, sent)
  const observed = { outcome: result.outcome, status: result.status, text: `${result.head}\r\n\r\n${result.body}` }
  checkCase(setup, observed, upstream, {
    refusedBeforeUpstream: input.refusedBeforeUpstream,
    why: input.why
  })
}

// Cases take milliseconds; bodies have the most kinds, so they get the most runs.
const focuses: ReadonlyArray<readonly [Focus, string, number]> = [
  ["paths", "paths, queries and methods", 60],
  ["bodies", "bodies, encodings and framing on each route", 120],
  ["headers", "credentials and headers on each route", 60]
]

describe.each(backends)("bad HTTP input on %s", (backend) => {
  layer(badInputGateway(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    const setup = fixtureOnce()
    const run = (focus: Focus, numRuns: number, seed: number) =>
      Effect.flatMap(
        setup,
        (fixture) =>
          assertProperty(httpCases(focus, fixture.pool.key, fixture.operatorToken), property(fixture), numRuns, seed)
      )

    for (const [focus, what, numRuns] of focuses) {
      it.effect(`${what}, fixed seed`, () => run(focus, numRuns, fixedSeed), { timeout: 300_000 })
      it.effect(`${what}, fresh seed`, () => run(focus, numRuns, freshSeed), { timeout: 300_000 })
    }

    it.effect("afterwards: no row left in progress, no secret in the logs, /healthz and a Codex turn served", () =>
      Effect.flatMap(setup, checkAftermath))
  })
})
