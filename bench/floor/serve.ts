import { HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { announce, exitWithParent } from "./child.ts"

// An Effect floor server: `routes` on HttpLayerRouter, served by NodeHttpServer as the gateway serves its own.
export const serve = <E>(
  name: string,
  routes: Layer.Layer<never, E, HttpLayerRouter.HttpRouter | HttpLayerRouter.Request<"Error", unknown>>
) => {
  const announced = Layer.effectDiscard(
    HttpServer.addressFormattedWith((url) => Effect.sync(() => announce(name, url)))
  )
  exitWithParent()
  HttpLayerRouter.serve(routes, { disableLogger: true }).pipe(
    Layer.merge(announced),
    Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.launch,
    NodeRuntime.runMain
  )
}
