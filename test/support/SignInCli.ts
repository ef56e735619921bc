import { expect } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import type { FakeUpstream } from "../FakeUpstream/FakeUpstream.ts"
import { type BinarySession, startBinary } from "./BinarySession.ts"
import type { CliResult } from "./Cli.ts"
import { cliInProcess, queryBetweenRuns } from "./CliInProcess.ts"
import { type Backend } from "./Databases.ts"
import { fakeBackendEnv } from "./Gateway.ts"

export const callback = "http://localhost:1455/auth/callback"
export const example = `${callback}?code=…&state=…`

// A fake backend and auth server, a database, and Pool "team" in it.
export const withTeam = (backend: Backend) =>
  Effect.gen(function*() {
    const { env, fake } = yield* fakeBackendEnv(backend)
    expect((yield* cliInProcess(["pool", "create", "team"], env)).code).toBe(0)
    return { env, fake } as const
  })

// The accounts (with their sealed credentials and Pools) and the sign-ins, read in one opening of the database.
export const stored = (env: Record<string, string>) =>
  queryBetweenRuns(env, (sql) =>
    Effect.all({
      accounts: sql`SELECT a.id, a.chatgpt_account_id, a.status, a.credentials_version, a.access_token_enc,
          a.refresh_token_enc, a.id_token_enc, coalesce(string_agg(p.slug, ','), '') AS pools
        FROM accounts a LEFT JOIN pool_accounts pa ON pa.account_id = a.id LEFT JOIN pools p ON p.id = pa.pool_id
        GROUP BY a.id ORDER BY a.created_at`,
      signIns: sql`SELECT kind, status, account_id, error FROM sign_ins ORDER BY created_at`
    }))

export const succeeded = (result: CliResult) => {
  expect(result, result.stderr).toMatchObject({ code: 0 })
  return result.stdout.trimEnd().split("\n")
}

export const login = (env: Record<string, string>, ...flags: Array<string>) =>
  startBinary(["account", "login", "--pool", "team", ...flags], env)

// A browser sign-in started, once it waits for the browser: its authorize address.
export const browserLogin = (env: Record<string, string>) =>
  Effect.gen(function*() {
    const session = yield* login(env)
    const authorize = new URL((yield* session.line(/^open /)).slice("open ".length))
    yield* session.line(/^sign in there; .*paste here the address it ends on/)
    return { session, authorize } as const
  })

// What the fake's authorize page redirects the browser to, signing in `accountId`.
export const signInAt = (fake: FakeUpstream, authorize: URL, accountId: string) =>
  Effect.gen(function*() {
    fake.nextSignIn(accountId)
    const answer = yield* Effect.promise(() => fetch(authorize, { redirect: "manual" }))
    expect(answer.status).toBe(302)
    const location = answer.headers.get("location") ?? ""
    expect(location.startsWith(`${callback}?code=`)).toBe(true)
    return location
  })

// The listener binds just after the hint is printed: a refused connection is tried again, briefly.
export const getCallback = (location: string) =>
  Effect.tryPromise(() => fetch(location.replace("http://localhost:1455", "http://127.0.0.1:1455"))).pipe(
    Effect.retry(Schedule.intersect(Schedule.spaced("50 millis"), Schedule.recurs(100))),
    Effect.flatMap((answer) => Effect.promise(async () => ({ status: answer.status, text: await answer.text() }))),
    Effect.orDie
  )

// A browser sign-in that printed its account: the process has nothing left to do, and ends at once.
export const signedIn = (fake: FakeUpstream, accountId: string, session: BinarySession) =>
  Effect.gen(function*() {
    const { email, plan } = fake.account(accountId)
    const line = yield* session.line(/^signed in account /)
    expect(line).toMatch(new RegExp(`^signed in account acct_\\w+  ${email}  plan ${plan}  active  pools team$`))
    const result = yield* session.exit.pipe(
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "still running 10 s after it signed in" }),
      Effect.orDie
    )
    return succeeded(result)
  })
