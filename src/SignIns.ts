import { Clock, Duration, Effect, Either, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { Accounts } from "./Accounts.ts"
import { credentialsFromTokens } from "./Accounts/AuthJson.ts"
import { Actor } from "./Domain/Actor.ts"
import { SignInFailed } from "./Domain/Errors.ts"
import type { Account } from "./Domain/Models.ts"
import { Pools } from "./Pools.ts"
import { AuthServer } from "./SignIns/AuthServer.ts"
import { authorizeUrl, newPkce, parseCallback, redirectUri, stateHash } from "./SignIns/Browser.ts"
import { type SignInRow, SignInsRepo } from "./SignIns/SignInsRepo.ts"
import { Vault } from "./Vault.ts"

// Where a signed-in account goes: into a Pool (new, or the same seat's credentials renewed), or in place of one
// account's credentials (`relogin`, that account's own seat only).
export type SignInTarget = { readonly poolSlug: string } | { readonly relogin: string }

export type SignInOutcome =
  | { readonly status: "pending"; readonly intervalSeconds: number }
  | { readonly status: "done"; readonly account: Account }

// Codex gives a device code 15 minutes (codex-rs/login device_code_auth.rs); a browser sign-in the same.
const flowLifetime = Duration.minutes(15)
// An instance that lost the race to exchange a flow's code waits this long for the winner's outcome.
const settleWait = Duration.seconds(20)

const DeviceSecret = Schema.parseJson(Schema.Struct({ deviceAuthId: Schema.String }))
const BrowserSecret = Schema.parseJson(Schema.Struct({ verifier: Schema.String }))

const secretAad = (id: string) => `sign_in:${id}`

const endedAs: Record<"failed" | "cancelled" | "expired", SignInFailed["reason"]> = {
  failed: "denied",
  cancelled: "cancelled",
  expired: "expired"
}

// Accounts join by signing in through the gateway, by device code or in a browser, as Codex itself signs in
// (codex-rs/login). A flow lives in the database — state hashed, verifier and device code sealed — so any instance
// may finish one another started, and one conditional update lets exactly one of them exchange its code.
export class SignIns extends Effect.Service<SignIns>()("Gateway/SignIns", {
  effect: Effect.gen(function*() {
    const repo = yield* SignInsRepo
    const authServer = yield* AuthServer
    const accounts = yield* Accounts
    const pools = yield* Pools
    const vault = yield* Vault

    // Where the account will go, checked before anything is asked of the auth server.
    const resolve = Effect.fn("SignIns.resolve")(function*(target: SignInTarget) {
      if ("relogin" in target) {
        yield* accounts.get(target.relogin)
        return { poolId: null, reloginAccountId: target.relogin } as const
      }
      return { poolId: (yield* pools.findBySlug(target.poolSlug)).id, reloginAccountId: null } as const
    })

    const newFlow = Effect.fn("SignIns.newFlow")(function*(
      target: { readonly poolId: string | null; readonly reloginAccountId: string | null },
      flow: {
        readonly kind: "device" | "browser"
        readonly secret: string
        readonly stateHash: string | null
        readonly userCode: string | null
        readonly intervalSeconds: number
      }
    ) {
      const actor = yield* Actor
      const id = `signin_${randomBytes(8).toString("hex")}`
      const expiresAt = new Date((yield* Clock.currentTimeMillis) + Duration.toMillis(flowLifetime))
      yield* repo.insert({
        id,
        kind: flow.kind,
        ...target,
        stateHash: flow.stateHash,
        secretEnc: vault.encrypt(flow.secret, secretAad(id)),
        userCode: flow.userCode,
        intervalSeconds: flow.intervalSeconds,
        actorKind: actor.kind,
        actorId: actor.id,
        expiresAt
      })
      return { id, expiresAt } as const
    })

    const startDevice = Effect.fn("SignIns.startDevice")(function*(target: SignInTarget) {
      const resolved = yield* resolve(target)
      const code = yield* authServer.requestUserCode
      const flow = yield* newFlow(resolved, {
        kind: "device",
        secret: Schema.encodeSync(DeviceSecret)({ deviceAuthId: code.deviceAuthId }),
        stateHash: null,
        userCode: code.userCode,
        intervalSeconds: code.intervalSeconds
      })
      return {
        ...flow,
        verificationUrl: code.verificationUrl,
        userCode: code.userCode,
        intervalSeconds: code.intervalSeconds
      }
    })

    const startBrowser = Effect.fn("SignIns.startBrowser")(function*(target: SignInTarget) {
      const resolved = yield* resolve(target)
      const pkce = newPkce()
      const flow = yield* newFlow(resolved, {
        kind: "browser",
        secret: Schema.encodeSync(BrowserSecret)({ verifier: pkce.verifier }),
        stateHash: stateHash(pkce.state),
        userCode: null,
        intervalSeconds: 0
      })
      return { ...flow, authorizeUrl: authorizeUrl(authServer.issuer, pkce.challenge, pkce.state) }
    })

    const fail = (row: SignInRow, status: "failed" | "cancelled" | "expired", error: SignInFailed) =>
      Effect.zipRight(repo.finish({ id: row.id, status, accountId: null, error: error.message }), Effect.fail(error))

    const expired = new SignInFailed({ reason: "expired", message: "the sign-in expired: start it again" })

    // What a flow that is no longer pending came to.
    const settled = (row: SignInRow) =>
      Effect.gen(function*() {
        if (row.status === "done" && row.accountId !== null) {
          return {
            status: "done",
            account: yield* accounts.get(row.accountId)
          } satisfies SignInOutcome as SignInOutcome
        }
        if (row.status === "failed" || row.status === "cancelled" || row.status === "expired") {
          return yield* new SignInFailed({
            reason: endedAs[row.status],
            message: row.error ?? `the sign-in ${row.status === "failed" ? "failed" : `was ${row.status}`}`
          })
        }
        return { status: "pending", intervalSeconds: row.intervalSeconds } satisfies SignInOutcome as SignInOutcome
      })

    // Another instance is exchanging this flow's code: its outcome, once the database has it.
    const awaitOther = (id: string) =>
      Effect.gen(function*() {
        const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(settleWait)
        while ((yield* Clock.currentTimeMillis) < deadline) {
          const row = yield* repo.find(id)
          if (row !== null && row.status !== "exchanging" && row.status !== "pending") return yield* settled(row)
          yield* Effect.sleep("200 millis")
        }
        return yield* new SignInFailed({
          reason: "auth_server",
          message: "another gateway instance is finishing this sign-in and has not yet: look at account list"
        })
      })

    const load = (id: string) =>
      Effect.flatMap(repo.find(id), (row) =>
        row === null
          ? Effect.fail(new SignInFailed({ reason: "unknown_sign_in", message: `no sign-in ${id}: start one first` }))
          : Effect.succeed(row))

    // The code for tokens, the tokens into an account: by the one instance that claims the flow.
    const complete = (row: SignInRow, code: string, verifier: string, redirect: string) =>
      Effect.gen(function*() {
        if (!(yield* repo.claim(row.id))) return yield* awaitOther(row.id)
        const tokens = yield* authServer.exchange(code, verifier, redirect).pipe(
          Effect.catchAll((error) => fail(row, "failed", error))
        )
        const credentials = yield* Either.match(credentialsFromTokens(tokens, new Date()), {
          onLeft: (invalid) =>
            fail(
              row,
              "failed",
              new SignInFailed({ reason: "exchange_failed", message: `the sign-in's ${invalid.message}` })
            ),
          onRight: Effect.succeed
        })
        const target: SignInTarget = row.reloginAccountId !== null
          ? { relogin: row.reloginAccountId }
          : { poolSlug: row.poolId ?? "" } // the Pool's id, which names it as its slug does
        const saved = yield* accounts.saveCredentials(credentials, target, "sign_in").pipe(
          Effect.tapError((error) =>
            repo.finish({ id: row.id, status: "failed", accountId: null, error: error.message })
          )
        )
        yield* repo.finish({ id: row.id, status: "done", accountId: saved.account.id, error: null })
        return { status: "done", account: saved.account } satisfies SignInOutcome as SignInOutcome
      }).pipe(
        Effect.onInterrupt(() =>
          repo.finish({ id: row.id, status: "failed", accountId: null, error: "interrupted while finishing" })
        )
      )

    // A flow no longer waiting for its code: what it came to (another instance's exchange, its end, its expiry); null
    // for one still pending.
    const overAlready = (row: SignInRow) =>
      row.status === "exchanging"
        ? awaitOther(row.id)
        : row.status !== "pending"
        ? settled(row)
        : row.expired
        ? fail(row, "expired", expired)
        : null

    // What the flow keeps sealed (its PKCE verifier, or its device code), opened; a row this gateway sealed opens.
    const secretOf = <A>(schema: Schema.Schema<A, string>, row: SignInRow) =>
      Effect.flatMap(vault.decrypt(row.secretEnc, secretAad(row.id)), Schema.decode(schema)).pipe(Effect.orDie)

    // One poll of a device sign-in: pending (poll again after the interval), or done with its account.
    const pollDevice = Effect.fn("SignIns.pollDevice")(function*(id: string) {
      const row = yield* load(id)
      if (row.kind !== "device") {
        return yield* new SignInFailed({
          reason: "unknown_sign_in",
          message: `${id} is a browser sign-in: finish it with the address the browser ended on`
        })
      }
      const over = overAlready(row)
      if (over !== null) return yield* over
      const { deviceAuthId } = yield* secretOf(DeviceSecret, row)
      const polled = yield* authServer.pollDevice(deviceAuthId, row.userCode ?? "").pipe(
        Effect.catchAll((error) =>
          Effect.gen(function*() {
            // Collected by another instance meanwhile (the server answers a code once): its outcome is this one's.
            const now = yield* repo.find(row.id)
            if (now !== null && now.status !== "pending") return yield* awaitOther(row.id)
            if (error.reason === "auth_server") return yield* error
            return yield* fail(row, error.reason === "expired" ? "expired" : "failed", error)
          })
        )
      )
      if ("status" in polled) return polled
      if (polled._tag === "pending") {
        if (polled.slowDown) yield* repo.slowDown(row.id)
        return {
          status: "pending",
          intervalSeconds: row.intervalSeconds + (polled.slowDown ? 5 : 0)
        } satisfies SignInOutcome as SignInOutcome
      }
      return yield* complete(row, polled.code, polled.verifier, `${authServer.issuer}/deviceauth/callback`)
    })

    // A browser sign-in finished with the address the browser ended on (pasted back, or received on the callback
    // port).
    const finishBrowser = Effect.fn("SignIns.finishBrowser")(function*(address: string) {
      const callback = yield* parseCallback(address)
      const row = yield* repo.findByState(stateHash(callback.state))
      if (row === null) {
        return yield* new SignInFailed({
          reason: "unknown_sign_in",
          message: "the address's state matches no sign-in: paste the address of the latest sign-in, or start again"
        })
      }
      const over = overAlready(row)
      if (over !== null) return yield* over
      if (callback._tag === "error") {
        const noCodex = callback.error === "access_denied" &&
          (callback.description ?? "").toLowerCase().includes("missing_codex_entitlement")
        return yield* fail(
          row,
          "failed",
          noCodex
            ? new SignInFailed({
              reason: "no_codex",
              message: "Codex is not enabled for this workspace: ask its administrator for access to Codex"
            })
            : new SignInFailed({
              reason: "denied",
              message: `the sign-in was not completed: ${callback.description ?? callback.error}`
            })
        )
      }
      const { verifier } = yield* secretOf(BrowserSecret, row)
      return yield* complete(row, callback.code, verifier, redirectUri)
    })

    // A flow given up (Ctrl-C): it can no longer finish.
    const cancel = (id: string) =>
      repo.finish({ id, status: "cancelled", accountId: null, error: "the sign-in was cancelled" })

    // What a page following a device sign-in shows while it waits: where to go and the code to enter there.
    const describe = Effect.fn("SignIns.describe")(function*(id: string) {
      const row = yield* load(id)
      return { verificationUrl: `${authServer.issuer}/codex/device`, userCode: row.userCode ?? "" } as const
    })

    return { startDevice, startBrowser, pollDevice, finishBrowser, cancel, describe } as const
  }),
  dependencies: [SignInsRepo.Default, AuthServer.Default, Accounts.Default, Pools.Default, Vault.Default]
}) {}
