import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { CLIENT_ID } from "./FakeUpstream/Tokens.ts"
import { startBinary } from "./support/BinarySession.ts"
import { cliInProcess } from "./support/CliInProcess.ts"
import { backends, tempDir } from "./support/Databases.ts"
import {
  browserLogin,
  callback,
  example,
  getCallback,
  login,
  signedIn,
  signInAt,
  stored,
  succeeded,
  withTeam
} from "./support/SignInCli.ts"

// Every command here is the real binary, a child process at a "terminal" (BinarySession.ts). The browser sign-ins
// listen on 127.0.0.1:1455, Codex's callback port, as a user's machine would: another program holding it on this
// machine fails the listener tests (a paste still works).

describe.each(backends)("account login and relogin at a terminal on %s", (backend) => {
  it.scopedLive(
    "by device code: the code shown, polled until entered, the account in its Pool",
    () =>
      Effect.gen(function*() {
        const { env, fake } = yield* withTeam(backend)
        const seat = fake.addAccount({ plan: "team" })
        // The server asks for a second between polls and answers an early one with slow_down: two polls in all means
        // the CLI kept to its interval.
        fake.setDeviceAuth({ interval: "1", enforceInterval: true })
        fake.autoApproveDevice(seat.accountId, { afterPolls: 1 })
        const session = yield* login(env, "--device", "--json")
        yield* session.line(/^enter code /)
        const lines = succeeded(yield* session.exit)
        const [issued, ...more] = fake.deviceCodes()
        expect(more).toEqual([])
        expect(issued).toMatchObject({ status: "collected", polls: 2, accountId: seat.accountId })
        expect(lines.slice(0, 2)).toEqual([`open ${fake.authUrl}/codex/device`, `enter code ${issued?.userCode}`])
        const account: unknown = JSON.parse(lines.slice(2).join("\n"))
        expect(account).toMatchObject({
          chatgptAccountId: seat.accountId,
          plan: "team",
          status: "active",
          pools: ["team"]
        })
        expect(yield* stored(env)).toMatchObject({
          accounts: [{ chatgptAccountId: seat.accountId, status: "active", credentialsVersion: 1, pools: "team" }],
          signIns: [{ kind: "device", status: "done" }]
        })
        expect(fake.codeExchanges).toEqual([
          expect.objectContaining({ grant: "authorization_code", accountId: seat.accountId, ok: true })
        ])
        // The gateway's sign-in is a lineage of its own: the laptop's auth.json still refreshes.
        const refreshed = yield* Effect.promise(() =>
          fetch(`${fake.authUrl}/oauth/token`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              client_id: CLIENT_ID,
              grant_type: "refresh_token",
              refresh_token: seat.refreshToken
            })
          })
        )
        expect(refreshed.status).toBe(200)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "a declined, an expired or a disabled device code ends with its own line and adds nothing",
    () =>
      Effect.gen(function*() {
        const { env, fake } = yield* withTeam(backend)
        const fails = (line: string) =>
          Effect.gen(function*() {
            const result = yield* (yield* login(env, "--device")).exit
            expect(result).toMatchObject({ code: 1, stderr: `codex-pooler: ${line}\n` })
            return result.stdout
          })
        const declined = "the sign-in was declined at the verification page"
        const expired = "the device code expired before it was entered: start the sign-in again"

        fake.autoApproveDevice({ deny: true, afterPolls: 1 })
        expect(yield* fails(declined)).toMatch(/^open .*\nenter code .*\n$/)
        fake.setDeviceAuth({ expiresInSeconds: 0 })
        yield* fails(expired)
        expect(fake.deviceCodes().map((code) => code.status)).toEqual(["denied", "expired"])
        fake.setDeviceAuth({ enabled: false })
        const off = yield* (yield* login(env, "--device")).exit
        expect(off).toMatchObject({ code: 1, stdout: "" })
        expect(off.stderr).toMatch(/^codex-pooler: device code sign-in is not enabled .*\n$/)

        const { accounts, signIns } = yield* stored(env)
        expect(accounts).toEqual([])
        expect(signIns).toMatchObject([{ status: "failed", error: declined }, { error: expired }])
        expect(["failed", "expired"]).toContain(signIns[1]?.["status"])
        expect(fake.codeExchanges).toEqual([])
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "Ctrl-C while waiting for the code ends with 130 and cancels the sign-in",
    () =>
      Effect.gen(function*() {
        const { env, fake } = yield* withTeam(backend)
        const session = yield* login(env, "--device")
        yield* session.line(/^enter code /)
        yield* session.signal("SIGINT")
        expect(yield* session.exit).toMatchObject({
          code: 130,
          stderr: "codex-pooler: sign-in cancelled; nothing was saved\n"
        })
        expect(yield* stored(env)).toMatchObject({
          accounts: [],
          signIns: [{ kind: "device", status: "cancelled", accountId: null }]
        })
        expect(fake.codeExchanges).toEqual([])
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "in a browser that reaches this machine: the callback port finishes it and says so",
    () =>
      Effect.gen(function*() {
        const { env, fake } = yield* withTeam(backend)
        const seat = fake.addAccount()
        const { authorize, session } = yield* browserLogin(env)
        expect(`${authorize.origin}${authorize.pathname}`).toBe(`${fake.authUrl}/oauth/authorize`)
        expect(authorize.searchParams.get("redirect_uri")).toBe(callback)
        const page = yield* getCallback(yield* signInAt(fake, authorize, seat.accountId))
        expect(page).toMatchObject({ status: 200, text: expect.stringContaining("Signed in") })
        expect(yield* signedIn(fake, seat.accountId, session)).toHaveLength(3)
        expect(yield* stored(env)).toMatchObject({
          accounts: [{ chatgptAccountId: seat.accountId, status: "active", pools: "team" }],
          signIns: [{ kind: "browser", status: "done" }]
        })
        expect(fake.codeExchanges.map((exchange) => exchange.ok)).toEqual([true])
      }),
    { timeout: 60_000 }
  )

  it.scopedLive("in a browser elsewhere: the address it ended on, pasted, finishes it", () =>
    Effect.gen(function*() {
      const { env, fake } = yield* withTeam(backend)
      const seat = fake.addAccount()
      const { authorize, session } = yield* browserLogin(env)
      yield* session.write(`\n  ${yield* signInAt(fake, authorize, seat.accountId)}\n`)
      expect(yield* signedIn(fake, seat.accountId, session)).toHaveLength(3)
      expect(yield* stored(env)).toMatchObject({
        accounts: [{ chatgptAccountId: seat.accountId, status: "active", pools: "team" }],
        signIns: [{ kind: "browser", status: "done" }]
      })
      expect(fake.codeExchanges.map((exchange) => exchange.ok)).toEqual([true])
    }), { timeout: 60_000 })

  it.scopedLive(
    "an address that is not the callback's, pasted or received, ends with its own line",
    () =>
      Effect.gen(function*() {
        const { env, fake } = yield* withTeam(backend)
        const refused: ReadonlyArray<readonly [string, string]> = [
          ["hello", `the pasted text is not an address: paste the whole of it (${example})`],
          [
            `https://localhost:1455/auth/callback?code=c&state=s`,
            "the address must start with http:// (it starts with https://)"
          ],
          [
            `http://example.com:1455/auth/callback?code=c&state=s`,
            "the address must be on localhost (it is on example.com)"
          ],
          [
            `http://localhost:8080/auth/callback?code=c&state=s`,
            "the address must be on port 1455 (it is on port 8080)"
          ],
          ["http://localhost:1455/callback?code=c&state=s", "the address must end in /auth/callback (it is /callback)"],
          [`${callback}?code=c`, "the address must carry exactly one state (it carries 0)"],
          [`${callback}?code=c&state=a&state=b`, "the address must carry exactly one state (it carries 2)"],
          [`${callback}?code=c&error=e&state=s`, "the address carries both a code and an error"],
          [`${callback}?state=s`, "the address carries neither a code nor an error: the sign-in did not finish"]
        ]
        // Each run ends with its scope: a child that did not exit is killed before the next one starts.
        yield* Effect.forEach(refused, ([pasted, line]) =>
          Effect.gen(function*() {
            const { session } = yield* browserLogin(env)
            yield* session.write(`${pasted}\n`)
            expect(yield* session.exit, pasted).toMatchObject({ code: 1, stderr: `codex-pooler: ${line}\n` })
          }).pipe(Effect.scoped))

        // A well-formed address of no sign-in, received on the callback port: the browser is told too.
        const unknown =
          "the address's state matches no sign-in: paste the address of the latest sign-in, or start again"
        const { session: listening } = yield* browserLogin(env)
        const page = yield* getCallback(`${callback}?code=c&state=not-ours`)
        expect(page).toMatchObject({ status: 400, text: expect.stringContaining(`Sign-in failed: ${unknown}`) })
        expect(yield* listening.exit).toMatchObject({ code: 1, stderr: `codex-pooler: ${unknown}\n` })

        const { authorize, session } = yield* browserLogin(env)
        const state = encodeURIComponent(authorize.searchParams.get("state") ?? "")
        yield* session.write(
          `${callback}?error=access_denied&error_description=missing_codex_entitlement&state=${state}\n`
        )
        expect(yield* session.exit).toMatchObject({
          code: 1,
          stderr: "codex-pooler: Codex is not enabled for this workspace: ask its administrator for access to Codex\n"
        })
        const { accounts, signIns } = yield* stored(env)
        expect(accounts).toEqual([])
        expect(signIns.at(-1)).toMatchObject({ kind: "browser", status: "failed" })
        expect(fake.codeExchanges).toEqual([])
      }),
    { timeout: 90_000 }
  )

  it.scopedLive(
    "relogin as another ChatGPT user writes nothing; as the account's own, renews its credentials",
    () =>
      Effect.gen(function*() {
        const { env, fake } = yield* withTeam(backend)
        const own = fake.addAccount()
        const other = fake.addAccount()
        const file = path.join(yield* tempDir("auth"), "auth.json")
        fs.writeFileSync(file, JSON.stringify(fake.authJson(own.accountId)))
        expect((yield* cliInProcess(["account", "import", "--pool", "team", file], env)).code).toBe(0)
        const before = (yield* stored(env)).accounts
        const id = String(before[0]?.["id"])
        const relogin = startBinary(["account", "relogin", id, "--device"], env)

        fake.autoApproveDevice(other.accountId)
        const refused = yield* (yield* relogin).exit
        expect(refused.code).toBe(1)
        expect(refused.stderr).toContain(`is not account ${id}'s: nothing was changed`)
        expect((yield* stored(env)).accounts).toEqual(before)

        fake.autoApproveDevice(own.accountId)
        expect(succeeded(yield* (yield* relogin).exit).at(-1)).toMatch(new RegExp(`^signed in again account ${id}  `))
        const after = yield* stored(env)
        expect(after).toMatchObject({
          accounts: [{ id, chatgptAccountId: own.accountId, status: "active", credentialsVersion: 2, pools: "team" }],
          signIns: [{ status: "failed" }, { status: "done", accountId: id }]
        })
        expect(after.accounts[0]?.["accessTokenEnc"]).not.toBe(before[0]?.["accessTokenEnc"])
        expect(after.accounts[0]?.["refreshTokenEnc"]).not.toBe(before[0]?.["refreshTokenEnc"])
      }),
    { timeout: 60_000 }
  )
})
