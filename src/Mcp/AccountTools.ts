import { Effect, Schema } from "effect"
import { Accounts } from "../Accounts.ts"
import { AccountStatus } from "../Domain/Models.ts"
import { AccountView, makeAccountViews } from "./AccountView.ts"
import { defineTool } from "./Tool.ts"

const AccountId = Schema.Struct({ accountId: Schema.String.annotations({ description: "an account id (acct_…)" }) })

export const accountTools = Effect.gen(function*() {
  const accounts = yield* Accounts
  const views = yield* makeAccountViews

  return [
    defineTool({
      name: "list_accounts",
      description:
        "List accounts with plan, status, pools, quota windows (with reset times), cooldown and circuit state.",
      scope: "read",
      input: Schema.Struct({ pool: Schema.optional(Schema.String), status: Schema.optional(AccountStatus) }),
      output: Schema.Struct({ accounts: Schema.Array(AccountView) }),
      run: (input) =>
        Effect.map(
          accounts.list,
          (all) =>
            all.filter((account) =>
              (input.pool === undefined || account.pools.includes(input.pool)) &&
              (input.status === undefined || account.status === input.status)
            )
        ).pipe(Effect.flatMap(views.many), Effect.map((list) => ({ accounts: list })))
    }),
    defineTool({
      name: "get_account",
      description: "One account: plan, status, pools, quota windows with reset times, cooldown and circuit state.",
      scope: "read",
      input: AccountId,
      output: Schema.Struct({ account: AccountView }),
      run: ({ accountId }) =>
        accounts.get(accountId).pipe(Effect.flatMap(views.one), Effect.map((account) => ({ account })))
    })
  ]
})
