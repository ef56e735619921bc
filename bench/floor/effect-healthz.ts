import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { serve } from "./serve.ts"

// The floor of an Effect HTTP answer: NodeHttpServer and HttpLayerRouter, as the gateway's own /healthz.
serve("effect-healthz", HttpLayerRouter.add("GET", "/healthz", HttpServerResponse.unsafeJson({ status: "ok" })))
