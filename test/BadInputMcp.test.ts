import { describe, expect, layer } from "@effect/vitest"
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
import { type McpCase, mcpCases, openMcpSession } from "./support/BadInputMcp.ts"
import { backends } from "./support/Databases.ts"
import { rawRequest } from "./support/RawHttp.ts"

// Property-based: malformed JSON-RPC, wrong params, unknown tools, huge arguments, odd sessions and credentials on
// /mcp with an operator token. Each message gets an answer within the bound, never a 5xx, never a secret, and never
// reaches upstream; afterwards a new MCP session still opens and the gateway still serves.

announceSeeds("mcp")

const numRuns = 60

const property = (setup: Fixture) => async (input: McpCase) => {
  const sent = () => rawRequest(setup.port, input.request, caseTimeoutMs)
  const { result, upstream } = await upstreamDuring(setup.fake, sent)
  const observed = { outcome: result.outcome, status: result.status, text: `${result.head}\r\n\r\n${result.body}` }
  checkCase(setup, observed, upstream, {
    refusedBeforeUpstream: true,
    why: "an MCP message is never relayed"
  })
}

describe.each(backends)("bad MCP input on %s", (backend) => {
  layer(badInputGateway(backend), { excludeTestServices: true, timeout: 60_000 })((it) => {
    const setup = fixtureOnce()
    const run = (seed: number) =>
      Effect.gen(function*() {
        const fixture = yield* setup
        const { answer, sessionId } = yield* Effect.promise(() => openMcpSession(fixture.port, fixture.operatorToken))
        expect(answer.status).toBe(200)
        yield* assertProperty(mcpCases(fixture.operatorToken, sessionId), property(fixture), numRuns, seed)
      })

    it.effect("messages, fixed seed", () => run(fixedSeed), { timeout: 300_000 })
    it.effect("messages, fresh seed", () => run(freshSeed), { timeout: 300_000 })

    it.effect(
      "afterwards: a new MCP session opens, no row in progress, no secret in the logs, still serving",
      () =>
        Effect.gen(function*() {
          const fixture = yield* setup
          const { answer } = yield* Effect.promise(() => openMcpSession(fixture.port, fixture.operatorToken))
          expect(answer.status).toBe(200)
          yield* checkAftermath(fixture)
        }),
      { timeout: 60_000 }
    )
  })
})
