import { Layer } from "effect"
import { DashboardRoutes } from "./Http/Dashboard.ts"
import { HealthRoutes } from "./Http/Health.ts"
import { MetricsRoute } from "./Http/MetricsRoute.ts"
import { CodexRoutes } from "./Proxy/Routes.ts"
import * as RateLimiter from "./RateLimiter.ts"
import * as UpstreamClient from "./UpstreamClient.ts"

export const HttpRoutes = Layer.mergeAll(HealthRoutes, MetricsRoute, DashboardRoutes, CodexRoutes).pipe(
  Layer.provide([UpstreamClient.layer, RateLimiter.layer])
)
