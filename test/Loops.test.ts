import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, FiberRef, HashSet, Logger, Schedule } from "effect"
import { Accounts } from "../src/Accounts.ts"
import { forkLoop } from "../src/Background.ts"
import { Pools } from "../src/Pools.ts"
import { backends } from "./support/Databases.ts"
import { sharedPostgres } from "./support/Gateway.ts"
import { cuttableRelay } from "./support/Outage.ts"

// Every log line of the fibers forked under `effect`, as text (message and cause), instead of on the console.
const capturingLogs = <A, E, R>(lines: Array<string>, effect: Effect.Effect<A, E, R>) =>
  Effect.locally(
    effect,
    FiberRef.currentLoggers,
    HashSet.make(Logger.make(({ cause, message }) => {
      const text = Array.isArray(message) ? message.join(" ") : String(message)
      lines.push(Cause.isEmpty(cause) ? text : `${text} ${Cause.pretty(cause)}`)
    }))
  )

const waitFor = (check: () => boolean) =>
  Effect.sync(check).pipe(
    Effect.filterOrFail((done) => done),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("20 seconds"))),
    Effect.orDie
  )

describe("long-lived loops", () => {
  it.scopedLive("a round that fails, dies, throws or is interrupted is logged and the loop goes on", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const sixth = yield* Deferred.make<number>()
      let rounds = 0
      const round = Effect.suspend(() => {
        rounds++
        switch (rounds) {
          case 1:
            return Effect.die(new Error("a defect"))
          case 2:
            return Effect.fail("an error")
          case 3:
            return Effect.sync(() => {
              throw new Error("a throw")
            })
          case 4:
            return Effect.interrupt
          case 6:
            return Deferred.succeed(sixth, rounds)
          default:
            return Effect.void
        }
      })
      yield* capturingLogs(lines, forkLoop("test loop", round, Schedule.spaced("10 millis")))
      expect(yield* Deferred.await(sixth).pipe(Effect.timeout("20 seconds"))).toBe(6)
      const failed = lines.filter((line) => line.startsWith("test loop: round failed"))
      expect(failed).toHaveLength(3)
      expect(failed[0]).toContain("a defect")
      expect(failed[1]).toContain("an error")
      expect(failed[2]).toContain("a throw")
    }))

  it.scopedLive("a loop ends with its scope", () =>
    Effect.gen(function*() {
      let rounds = 0
      yield* Effect.scoped(Effect.gen(function*() {
        yield* forkLoop("scoped loop", Effect.sync(() => rounds++), Schedule.spaced("10 millis"))
        yield* waitFor(() => rounds >= 3)
      }))
      const ended = rounds
      yield* Effect.sleep("200 millis")
      expect(rounds).toBe(ended)
    }))
})

if (backends.includes("postgres")) {
  describe("the usage poll through a database outage", () => {
    it.scopedLive(
      "rounds fail while the database is away, are logged, and polling resumes when it is back",
      () =>
        Effect.gen(function*() {
          const target = new URL(process.env["TEST_DATABASE_URL"] ?? "")
          const relay = yield* cuttableRelay({ host: target.hostname, port: Number(target.port || 5432) })
          const polling = { CODEX_POOLER_USAGE_POLL_SECONDS: "1" }
          const { fake, instance, manage } = yield* sharedPostgres(polling, { databasePort: relay.port })
          const account = fake.addAccount()
          yield* manage(Effect.gen(function*() {
            yield* (yield* Pools).create({ slug: "outage-poll" })
            yield* (yield* Accounts).importAuthJson("outage-poll", JSON.stringify(fake.authJson(account.accountId)))
          }))
          const polls = () => fake.requests.filter((request) => request.path === "/backend-api/wham/usage").length
          const lines: Array<string> = []
          yield* capturingLogs(lines, instance)
          yield* waitFor(() => polls() > 0)

          yield* relay.cut
          yield* waitFor(() => lines.filter((line) => line.startsWith("usage poll: round failed")).length >= 2)
          const during = polls()
          yield* relay.restore
          yield* waitFor(() => polls() >= during + 2)
        }),
      { timeout: 90_000 }
    )
  })
}
