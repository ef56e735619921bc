import { Effect, Schema } from "effect"
import { Accounts } from "../Accounts.ts"
import type { NotFound } from "../Domain/Errors.ts"
import type { Account } from "../Domain/Models.ts"
import { AccountView, makeAccountViews } from "./AccountView.ts"
import { defineTool } from "./Tool.ts"

const AccountId = Schema.Struct({ accountId: Schema.String.annotations({ description: "an account id (acct_…)" }) })
const Result = Schema.Struct({ account: AccountView })

export const accountAdminTools = Effect.gen(function*() {
  const accounts = yield* Accounts
  const views = yield* makeAccountViews
  const view = <R>(account: Effect.Effect<Account, NotFound, R>) =>
    account.pipe(Effect.flatMap(views.one), Effect.map((one) => ({ account: one })))

  return [
    defineTool({
      name: "pause_account",
      description: "Pause an account: it is no longer selected for new requests. Recorded in the audit log.",
      scope: "admin",
      input: AccountId,
      output: Result,
      run: ({ accountId }) => view(accounts.pause(accountId))
    }),
    defineTool({
      name: "resume_account",
      description: "Resume a paused account so it is selected again. Recorded in the audit log.",
      scope: "admin",
      input: AccountId,
      output: Result,
      run: ({ accountId }) => view(accounts.resume(accountId))
    }),
    defineTool({
      name: "clear_account_cooldown",
      description:
        "Clear an account's cooldown and close its circuit, making it eligible again. Recorded in the audit log.",
      scope: "admin",
      input: AccountId,
      output: Result,
      run: ({ accountId }) => view(accounts.clearCooldown(accountId))
    })
  ]
})
