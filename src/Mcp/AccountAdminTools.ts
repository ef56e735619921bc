import { Effect, Schema } from "effect"
import { Accounts } from "../Accounts.ts"
import type { NotFound } from "../Domain/Errors.ts"
import { newId } from "../Domain/Ids.ts"
import type { Account } from "../Domain/Models.ts"
import { ConsumeCode, ResetCredits } from "../ResetCredits.ts"
import { AccountView, makeAccountViews } from "./AccountView.ts"
import { defineTool } from "./Tool.ts"

const AccountId = Schema.Struct({ accountId: Schema.String.annotations({ description: "an account id (acct_…)" }) })
const Result = Schema.Struct({ account: AccountView })
const Redemption = Schema.Struct({
  requestId: Schema.String,
  accountId: Schema.NullOr(Schema.String),
  code: ConsumeCode,
  windowsReset: Schema.Number,
  replayed: Schema.Boolean
})

export const accountAdminTools = Effect.gen(function*() {
  const accounts = yield* Accounts
  const resetCredits = yield* ResetCredits
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
    }),
    defineTool({
      name: "redeem_reset_credit",
      description:
        "Spend one of an account's saved usage-limit resets (reset credits). Only for an account resting at " +
        "its usage limit; its rest ends when upstream confirms. Pass the same requestId to retry without redeeming " +
        "twice. Audited.",
      scope: "admin",
      input: Schema.Struct({
        accountId: AccountId.fields.accountId,
        requestId: Schema.optional(
          Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9._:-]{1,128}$/)).annotations({
            description: "idempotency id; a new redemption each call without it"
          })
        )
      }),
      output: Schema.Struct({ redemption: Redemption, account: AccountView }),
      run: ({ accountId, requestId }) =>
        Effect.gen(function*() {
          const redemption = yield* resetCredits.redeemAccount(
            accountId,
            "operator",
            requestId ?? newId("rdm"),
            "operator"
          )
          return { redemption, ...(yield* view(accounts.get(accountId))) }
        })
    })
  ]
})
