import { Layer } from "effect"
import { HealthRoutes } from "./Http/Health.ts"

export const HttpRoutes = Layer.mergeAll(HealthRoutes)
