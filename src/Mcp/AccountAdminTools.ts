import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { Accounts } from "../Accounts.ts"
import { AuditLog } from "../AuditLog.ts"
import { AccountView, makeAccountViews } from "./AccountView.ts"
import { ControlRepo } from "./ControlRepo.ts"
import { defineTool } from "./Tool.ts"

const AccountId = Schema.Struct({ accountId: Schema.String.annotations({ description: "an account id (acct_…)" }) })
const Result = Schema.Struct({ account: AccountView })

export const accountAdminTools = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const accounts = yield* Accounts
  const control = yield* ControlRepo
  const audit = yield* AuditLog
  const views = yield* makeAccountViews

  const clearCooldown = (accountId: string) =>
    Effect.gen(function*() {
      yield* accounts.get(accountId)
      const cleared = yield* control.clearCooldown(accountId)
      yield* audit.record({
        action: "account.clear_cooldown",
        targetKind: "account",
        targetId: accountId,
        details: { hadHealthRow: cleared.length > 0 }
      })
      return yield* accounts.get(accountId)
    }).pipe(sql.withTransaction, Effect.catchTag("SqlError", Effect.die))

  return [
    defineTool({
      name: "pause_account",
      description: "Pause an account: it is no longer selected for new requests. Recorded in the audit log.",
      scope: "admin",
      input: AccountId,
      output: Result,
      run: ({ accountId }) => accounts.pause(accountId).pipe(Effect.flatMap(views.one), Effect.map((account) => ({ account })))
    }),
    defineTool({
      name: "resume_account",
      description: "Resume a paused account so it is selected again. Recorded in the audit log.",
      scope: "admin",
      input: AccountId,
      output: Result,
      run: ({ accountId }) => accounts.resume(accountId).pipe(Effect.flatMap(views.one), Effect.map((account) => ({ account })))
    }),
    defineTool({
      name: "clear_account_cooldown",
      description: "Clear an account's cooldown and close its circuit, making it eligible again. Recorded in the audit log.",
      scope: "admin",
      input: AccountId,
      output: Result,
      run: ({ accountId }) => clearCooldown(accountId).pipe(Effect.flatMap(views.one), Effect.map((account) => ({ account })))
    })
  ]
})
