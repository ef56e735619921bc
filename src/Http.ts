import { Layer } from "effect"
import { HealthRoutes } from "./Http/Health.ts"
import { CodexRoutes } from "./Proxy/Routes.ts"
import * as RateLimiter from "./RateLimiter.ts"
import * as UpstreamClient from "./UpstreamClient.ts"

export const HttpRoutes = Layer.mergeAll(HealthRoutes, CodexRoutes).pipe(
  Layer.provide([UpstreamClient.layer, RateLimiter.layer])
)
