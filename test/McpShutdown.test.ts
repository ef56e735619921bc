import { describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { Effect, Exit, Layer, Option, Scope } from "effect"
import { OperatorTokens } from "../src/OperatorTokens.ts"
import { gatewayLayer, gatewayUrl } from "./support/Gateway.ts"

// An open MCP listen stream (Codex keeps one for its whole run) must not hold shutdown for the grace period.
describe("operator MCP at shutdown", () => {
  it.live(
    "closes open sessions and their streams instead of waiting out the grace period",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        // A grace period far past the test's own timeout: stopping can only finish by closing the session itself.
        const context = yield* Layer.buildWithScope(
          gatewayLayer("pglite", { CODEX_POOLER_SHUTDOWN_GRACE_MS: "3600000" }),
          scope
        )
        const { token } = yield* Effect.flatMap(OperatorTokens, (tokens) => tokens.create({ scope: "read" })).pipe(
          Effect.provide(context)
        )
        const url = new URL(`${yield* Effect.provide(gatewayUrl, context)}/mcp`)
        // The client opens its listen stream (a GET) on its own after connecting: the test waits until it is open.
        let listening: () => void = () => undefined
        const listen = new Promise<void>((resolve) => (listening = resolve))
        const watching: typeof fetch = (input, init) =>
          fetch(input, init).then((response) => {
            if (init?.method === "GET" && response.ok) listening()
            return response
          })
        const client = new Client({ name: "mcp-test", version: "1.0.0" })
        const transport = new StreamableHTTPClientTransport(url, {
          fetch: watching,
          requestInit: { headers: { authorization: `Bearer ${token}` } }
        })
        yield* Effect.promise(() => client.connect(transport))
        yield* Effect.promise(() => client.listTools())
        yield* Effect.promise(() => listen)
        // Stopping ends (the bound only tells "finished" from "waiting out an hour of grace" apart; it measures nothing).
        const stopped = yield* Scope.close(scope, Exit.void).pipe(Effect.timeoutOption("30 seconds"))
        expect(Option.isSome(stopped)).toBe(true)
        // The session went with it: the listen stream no longer answers.
        const after = yield* Effect.either(Effect.tryPromise(() => client.listTools()))
        expect(after._tag).toBe("Left")
        yield* Effect.promise(() => client.close())
      }),
    60_000
  )
})
