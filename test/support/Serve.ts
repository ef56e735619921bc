import type { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { Accounts } from "../../src/Accounts.ts"
import { PoolKeys } from "../../src/PoolKeys.ts"
import { Pools } from "../../src/Pools.ts"
import { SqlLive } from "../../src/Sql.ts"
import { type FakeUpstream, startFakeUpstream } from "../FakeUpstream/FakeUpstream.ts"
import { binary, childEnv } from "./Binary.ts"
import { repoRoot } from "./Cli.ts"
import { type Backend, backendEnv, configFrom } from "./Databases.ts"
import { ManagementServices } from "./Services.ts"

export interface RunningGateway {
  readonly url: string
  readonly child: ChildProcess
  readonly output: () => string
  // until the output (stdout and stderr) matches; fails if the process ends first
  readonly printed: (pattern: RegExp) => Effect.Effect<void, Error>
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

// `codex-pooler serve` as a separate process on an ephemeral port, ready once its "Listening on" line names the port;
// killed with the scope, whatever the test did.
export const startGateway = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.async<RunningGateway, Error>((resume) => {
      const child = spawn(process.execPath, [...binary, "serve"], {
        cwd: repoRoot,
        env: childEnv({ PORT: "0", CODEX_POOLER_USAGE_POLL_SECONDS: "0", ...env }),
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      const waiters = new Set<() => void>()
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      const stop = (signal: NodeJS.Signals = "SIGTERM") => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal)
        return exited
      }
      const printed = (pattern: RegExp) =>
        Effect.async<void, Error>((resume) => {
          const check = () => {
            if (pattern.test(output)) resume(Effect.void)
            else if (child.exitCode !== null || child.signalCode !== null) {
              resume(Effect.fail(new Error(`gateway exited before printing ${pattern}: ${output}`)))
            } else return
            waiters.delete(check)
          }
          waiters.add(check)
          check()
          return Effect.sync(() => waiters.delete(check))
        })
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        for (const waiter of waiters) waiter()
        const match = /Listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
        if (match?.[1]) resume(Effect.succeed({ url: match[1], child, output: () => output, printed, stop }))
      }
      child.stdout.on("data", onData)
      child.stderr.on("data", onData)
      void exited.then((code) => {
        for (const waiter of waiters) waiter()
        resume(Effect.fail(new Error(`gateway exited with ${code}: ${output}`)))
      })
      return Effect.promise(() => stop("SIGKILL"))
    }),
    (gateway) => Effect.promise(() => gateway.stop("SIGKILL"))
  )

export class Served extends Context.Tag("test/Served")<Served, {
  readonly gateway: RunningGateway
  readonly fake: FakeUpstream
  readonly env: Record<string, string>
}>() {}

// One `serve` process for a file's tests, on a fresh database of `backend` (on PGlite, a data dir initdb already
// ran in, as a second start finds it), against its own fake backend.
export const servedGateway = (backend: Backend, env: Record<string, string> = {}) =>
  Layer.scoped(
    Served,
    Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(
        Effect.promise(() => startFakeUpstream()),
        (fake) => Effect.promise(() => fake.close())
      )
      const database = yield* backendEnv(backend)
      const config = {
        ...database,
        CODEX_POOLER_UPSTREAM_URL: fake.url,
        CODEX_POOLER_AUTH_URL: fake.authUrl,
        CODEX_POOLER_REALTIME_URL: fake.realtimeUrl,
        ...env
      }
      return { gateway: yield* startGateway(config), fake, env: config }
    })
  )

// Runs `effect` in this process on the served database (on PGlite through the socket `serve` holds it open on, as
// the CLI does), closing its connection before it returns.
export const onServedDatabase = <A, E>(
  effect: Effect.Effect<A, E, Layer.Layer.Success<typeof ManagementServices> | SqlClient.SqlClient>
) =>
  Effect.flatMap(
    Served,
    ({ env }) =>
      effect.pipe(Effect.provide(ManagementServices.pipe(Layer.provideMerge(SqlLive), Layer.provide(configFrom(env)))))
  )

// A fresh Pool with one fake account imported from its auth.json, and a key for it.
export const servedPool = Effect.gen(function*() {
  const { fake } = yield* Served
  const slug = `served-${randomBytes(4).toString("hex")}`
  const account = fake.addAccount()
  const key = yield* onServedDatabase(Effect.gen(function*() {
    yield* (yield* Pools).create({ slug, strategy: "least_recently_used" })
    yield* (yield* Accounts).importAuthJson(slug, JSON.stringify(fake.authJson(account.accountId)))
    return (yield* (yield* PoolKeys).create({ poolSlug: slug })).token
  }))
  return { slug, account, key } as const
})
