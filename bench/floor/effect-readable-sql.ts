import { HttpLayerRouter } from "@effect/platform"
import { Effect, Layer } from "effect"
import { path } from "./forward.ts"
import { readableProxy } from "./readable.ts"
import { makeRows, rowOf, SqlLive } from "./rows.ts"
import { serve } from "./serve.ts"

// effect-readable plus one INSERT per request, committed before the request goes upstream.
const routes = HttpLayerRouter.use((router) =>
  Effect.gen(function*() {
    const rows = yield* makeRows
    yield* router.add("POST", path, readableProxy((request, body) => rows.insert([rowOf(request, body)])))
  })
).pipe(Layer.provide(SqlLive))

serve("effect-readable+sql", routes)
