import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Layer } from "effect"
import { bearerOf } from "../Domain/Bearer.ts"
import { CredentialRejected } from "../Domain/Errors.ts"
import { Metrics } from "../Metrics.ts"
import { OperatorTokens } from "../OperatorTokens.ts"

// Prometheus scrapes with an operator token (either scope): `authorization: Bearer cpo_…` in its scrape config.
// The numbers name Pools and accounts, so they are not for anyone who can reach the port.
const route = Effect.gen(function*() {
  const metrics = yield* Metrics
  const tokens = yield* OperatorTokens
  const scrape = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const token = bearerOf(request.headers["authorization"])
    yield* token === undefined ? new CredentialRejected({ kind: "cpo", reason: "missing" }) : tokens.verify(token)
    return HttpServerResponse.text(yield* metrics.render, { contentType: metrics.contentType })
  }).pipe(
    Effect.catchTag(
      "CredentialRejected",
      (error) =>
        HttpServerResponse.json({
          error: { type: "invalid_request_error", code: "invalid_operator_token", message: error.message }
        }, {
          status: 401,
          headers: { "www-authenticate": `Bearer realm="codex-pooler"` }
        })
    )
  )
  return [HttpLayerRouter.route("GET", "/metrics", scrape)]
})

export const MetricsRoute = HttpLayerRouter.addAll(route).pipe(Layer.provide([Metrics.Default, OperatorTokens.Default]))
