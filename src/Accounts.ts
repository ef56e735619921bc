import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import { AccountHealth } from "./AccountHealth.ts"
import { AccountsRepo } from "./Accounts/AccountsRepo.ts"
import { parseAuthJson, type UpstreamCredentials } from "./Accounts/AuthJson.ts"
import { tokenAad } from "./Accounts/Sealing.ts"
import { AuditLog } from "./AuditLog.ts"
import { WrongSeat } from "./Domain/Errors.ts"
import { orNotFound as found } from "./Domain/Found.ts"
import { newId } from "./Domain/Ids.ts"
import { maskEmail } from "./Mcp/Tool.ts"
import { Pools } from "./Pools.ts"
import { RoutingChanges } from "./RoutingView/Changes.ts"
import { Vault } from "./Vault.ts"

export class Accounts extends Effect.Service<Accounts>()("Gateway/Accounts", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* AccountsRepo
    const pools = yield* Pools
    const vault = yield* Vault
    const audit = yield* AuditLog
    const health = yield* AccountHealth
    // each of these changes what routes requests; announced once its transaction has committed
    const { after } = yield* RoutingChanges

    const orNotFound = (id: string) => found("account", id)

    // The same ChatGPT user of the same workspace (a Team workspace's seats share its account id) is one account:
    // credentials for it again (imported, or signed in again) replace its own instead of adding a twin, and end a
    // reauth_required. Into a Pool, a new one is added; for `relogin`, only that account's own seat is taken, and any
    // other writes nothing.
    const saveCredentials = Effect.fn("Accounts.saveCredentials")(function*(
      credentials: UpstreamCredentials,
      into: { readonly poolSlug: string } | { readonly relogin: string },
      source: "import" | "sign_in"
    ) {
      const pool = "poolSlug" in into ? yield* pools.findBySlug(into.poolSlug) : null
      return yield* sql.withTransaction(
        Effect.gen(function*() {
          const existing = yield* repo.findIdByIdentity(credentials)
          if ("relogin" in into) {
            yield* repo.findById(into.relogin).pipe(orNotFound(into.relogin))
            if (Option.isNone(existing) || existing.value.id !== into.relogin) {
              return yield* new WrongSeat({ accountId: into.relogin, email: maskEmail(credentials.email) })
            }
          }
          const id = Option.match(existing, { onNone: () => newId("acct"), onSome: (row) => row.id })
          yield* repo.upsert({
            id,
            chatgptAccountId: credentials.chatgptAccountId,
            chatgptUserId: credentials.chatgptUserId,
            email: credentials.email,
            plan: credentials.plan,
            fedramp: credentials.fedramp,
            accessTokenEnc: vault.encrypt(credentials.accessToken, tokenAad(id, "access")),
            refreshTokenEnc: vault.encrypt(credentials.refreshToken, tokenAad(id, "refresh")),
            idTokenEnc: vault.encrypt(credentials.idToken, tokenAad(id, "id")),
            accessExpiresAt: credentials.accessExpiresAt,
            lastRefreshAt: credentials.lastRefreshAt
          })
          if (pool !== null) yield* repo.addToPool(pool.id, id)
          const created = Option.isNone(existing)
          yield* audit.record({
            action: source === "import" ? (created ? "account.import" : "account.reimport") : "account.sign_in",
            targetKind: "account",
            targetId: id,
            details: { ...(pool === null ? {} : { pool: pool.slug }), created }
          })
          const account = yield* repo.findById(id).pipe(orNotFound(id))
          return { account, created } as const
        })
      ).pipe(Effect.catchTag("SqlError", Effect.die), after)
    })

    const importAuthJson = Effect.fn("Accounts.importAuthJson")(function*(poolSlug: string, text: string) {
      return yield* saveCredentials(yield* parseAuthJson(text), { poolSlug }, "import")
    })

    const setStatus = (action: "pause" | "resume") =>
      Effect.fn(`Accounts.${action}`)((id: string) =>
        Effect.gen(function*() {
          yield* repo.setStatus(id, action === "pause" ? "paused" : "active").pipe(orNotFound(id))
          yield* audit.record({ action: `account.${action}`, targetKind: "account", targetId: id })
          return yield* repo.findById(id).pipe(orNotFound(id))
        }).pipe(sql.withTransaction, Effect.catchTag("SqlError", Effect.die), after)
      )

    const remove = Effect.fn("Accounts.remove")((id: string) =>
      Effect.gen(function*() {
        yield* repo.remove(id).pipe(orNotFound(id))
        yield* audit.record({ action: "account.remove", targetKind: "account", targetId: id })
      }).pipe(sql.withTransaction, Effect.catchTag("SqlError", Effect.die), after)
    )

    const clearCooldown = Effect.fn("Accounts.clearCooldown")((id: string) =>
      Effect.gen(function*() {
        const account = yield* repo.findById(id).pipe(orNotFound(id))
        const hadHealthRow = yield* health.clear(id)
        yield* audit.record({
          action: "account.clear_cooldown",
          targetKind: "account",
          targetId: id,
          details: { hadHealthRow }
        })
        return account
      }).pipe(sql.withTransaction, Effect.catchTag("SqlError", Effect.die), after)
    )

    return {
      importAuthJson,
      saveCredentials,
      list: repo.list,
      get: (id: string) => repo.findById(id).pipe(orNotFound(id)),
      pause: setStatus("pause"),
      resume: setStatus("resume"),
      clearCooldown,
      remove
    } as const
  }),
  dependencies: [
    AccountsRepo.Default,
    Pools.Default,
    Vault.Default,
    AuditLog.Default,
    AccountHealth.Default,
    RoutingChanges.Default
  ]
}) {}
