import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import { type Browser as Chromium, chromium, type Page } from "playwright-core"

export class Browser extends Context.Tag("test/Browser")<Browser, Chromium>() {}

// Debian's Chromium (`.ci/run` installs it), headless; as root it cannot start its sandbox.
export const BrowserLive = Layer.scoped(
  Browser,
  Effect.acquireRelease(
    Effect.promise(() =>
      chromium.launch({
        executablePath: "/usr/bin/chromium",
        headless: true,
        args: process.getuid?.() === 0 ? ["--no-sandbox"] : []
      })
    ),
    (browser) => Effect.promise(() => browser.close())
  )
)

export const browse = <A>(run: () => Promise<A>) => Effect.promise(run)

// A context of its own (its own cookies) whose pages reach loopback only: a request to any other host is aborted.
export const freshPage = Effect.gen(function*() {
  const browser = yield* Browser
  const context = yield* Effect.acquireRelease(
    Effect.promise(() => browser.newContext()),
    (context) => Effect.promise(() => context.close())
  )
  yield* browse(() =>
    context.route(
      "**/*",
      (route) =>
        new URL(route.request().url()).hostname === "127.0.0.1" ? route.continue() : route.abort("blockedbyclient")
    )
  )
  return yield* browse(() => context.newPage())
})

const screenshots = fileURLToPath(new URL("../../test-results/dashboard/", import.meta.url))

export const screenshot = (page: Page, name: string) =>
  browse(async () => {
    fs.mkdirSync(screenshots, { recursive: true })
    await page.screenshot({ path: `${screenshots}${name}.png`, fullPage: true })
  })

// Another site's server on loopback (another port: another origin), answering every GET with `page(url)`.
export const otherSite = (page: (url: URL) => string) =>
  Effect.acquireRelease(
    Effect.async<http.Server>((resume) => {
      const server = http.createServer((request, response) => {
        response.writeHead(200, { "content-type": "text/html; charset=utf-8" })
        response.end(page(new URL(request.url ?? "/", "http://127.0.0.1")))
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(Effect.map((server) => {
    const address = server.address()
    return `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
  }))
