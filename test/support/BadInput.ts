import { Effect, Layer, Logger, LogLevel } from "effect"
import fc from "fast-check"
import { randomBytes } from "node:crypto"
import { lineLogger } from "../../src/Logging.ts"
import { OperatorTokens } from "../../src/OperatorTokens.ts"
import { PoolKeys } from "../../src/PoolKeys.ts"
import type { FakeUpstream } from "../FakeUpstream/FakeUpstream.ts"
import type { Backend } from "./Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, setupPool, type TestPool } from "./Gateway.ts"

// The harness of the property-based bad-input suites: the seeds, one gateway per backend with a small body limit and
// a logger that keeps its lines, and a Pool whose key allows one model. The invariants are in BadInputChecks.ts.

export const fixedSeed = 20_261_202
const replay = process.env["BAD_INPUT_SEED"]
export const freshSeed = replay !== undefined && Number.isInteger(Number(replay))
  ? Number(replay)
  : randomBytes(4).readInt32LE()

export const announceSeeds = (area: string) =>
  console.log(
    `bad-input seeds: fixed=${fixedSeed} fresh=${freshSeed} (${area}, node ${process.version}; replay the fresh one ` +
      `with BAD_INPUT_SEED=${freshSeed})`
  )

export const maxBodyBytes = 1024 * 1024
export const allowedModel = "gpt-5.5"
export const forbiddenModel = "gpt-forbidden-bad-input"
export const caseTimeoutMs = 10_000

export const logLines: Array<string> = []

// Errors that escape every handler. Vitest's worker would keep the process up after one where the gateway's own
// process dies, so each is recorded and reported as the failure of the case that caused it.
export const escaped: Array<string> = []
process.on("uncaughtException", (error) => escaped.push(String(error)))
process.on("unhandledRejection", (error) => escaped.push(String(error)))

export const badInputGateway = (backend: Backend) =>
  gatewayLayer(backend, { CODEX_POOLER_MAX_BODY_BYTES: String(maxBodyBytes) }).pipe(
    Layer.provide(Layer.mergeAll(
      Logger.replace(Logger.defaultLogger, lineLogger("json", (line) => logLines.push(line))),
      Logger.minimumLogLevel(LogLevel.All)
    ))
  )

export interface Fixture {
  readonly fake: FakeUpstream
  readonly pool: TestPool
  readonly operatorToken: string
  readonly port: number
  readonly rssStart: number
}

const fixture = Effect.gen(function*() {
  const fake = yield* Fake
  const pool = yield* setupPool(2)
  yield* (yield* PoolKeys).setLimits(pool.key.split("_")[1] ?? "", { allowedModels: [allowedModel] })
  const operator = yield* (yield* OperatorTokens).create({ scope: "admin" })
  const port = Number(new URL(yield* gatewayUrl).port)
  return { fake, pool, operatorToken: operator.token, port, rssStart: process.memoryUsage().rss } satisfies Fixture
})

// One fixture per gateway, made by the first test that needs it and shared by the ones after.
export const fixtureOnce = () => {
  let made: Fixture | undefined
  return Effect.suspend(() =>
    made === undefined ? Effect.tap(fixture, (value) => (made = value)) : Effect.succeed(made)
  )
}

// `cpk_<id>_<secret>`: the secret is base64url, which may itself hold "_", so it is all after the id.
const secretPart = (token: string) => token.split("_").slice(2).join("_")

export const secretsOf = (fixture: Fixture): ReadonlyArray<string> => [
  secretPart(fixture.pool.key),
  secretPart(fixture.operatorToken),
  ...fixture.fake.accounts().flatMap((account) => [account.accessToken, account.refreshToken, account.idToken]),
  ...fixture.fake.refreshCalls.map((call) => call.refreshToken).filter((token) => token.length > 8)
]

// Memory is judged per case (so a shrunk counterexample is the case that grew it) and over the whole file afterwards.
export const caseStart = { rss: process.memoryUsage().rss }

// Runs the case and answers what upstream saw meanwhile (the cases run one at a time).
export const upstreamDuring = async <A>(fake: FakeUpstream, run: () => Promise<A>) => {
  caseStart.rss = process.memoryUsage().rss
  const before = fake.requests.length
  const result = await run()
  return { result, upstream: fake.requests.slice(before) }
}

// fast-check shrinks a failure to its smallest case and prints it, with the seed and path that replay it.
export const assertProperty = <A>(
  arbitrary: fc.Arbitrary<A>,
  predicate: (value: A) => Promise<void>,
  numRuns: number,
  seed: number
) =>
  Effect.promise(() =>
    fc.assert(fc.asyncProperty(arbitrary, predicate), { seed, numRuns, interruptAfterTimeLimit: 240_000 })
  )
