import { Effect, Schema } from "effect"
import { InvalidInput } from "../Domain/Errors.ts"
import { SignIns, type SignInTarget } from "../SignIns.ts"
import { AccountView, makeAccountViews } from "./AccountView.ts"
import { defineTool } from "./Tool.ts"

const Target = Schema.Struct({
  pool: Schema.optional(Schema.String.annotations({ description: "the Pool (slug or id) a new account joins" })),
  accountId: Schema.optional(Schema.String.annotations({ description: "an account (acct_…) to sign in again instead" }))
})

const targetOf = (input: typeof Target.Type): Effect.Effect<SignInTarget, InvalidInput> =>
  input.pool !== undefined && input.accountId === undefined
    ? Effect.succeed({ poolSlug: input.pool })
    : input.accountId !== undefined && input.pool === undefined
    ? Effect.succeed({ relogin: input.accountId })
    : Effect.fail(
      new InvalidInput({ message: "name either a pool (a new account) or an accountId (to sign in again)" })
    )

// Account sign-in for an operator elsewhere (an agent, the dashboard): the same flows as `account login`.
export const signInTools = Effect.gen(function*() {
  const signIns = yield* SignIns
  const views = yield* makeAccountViews

  return [
    defineTool({
      name: "start_account_login",
      description: "Start signing a ChatGPT account in. method device: returns a verification URL and a code for the " +
        "account's owner to enter there, then call finish_account_login until it is done. method browser: returns " +
        "an authorize URL; the owner signs in and gives back the address the browser ended on, for " +
        "finish_account_login's callbackUrl. Flows expire after 15 minutes.",
      scope: "admin",
      input: Schema.Struct({ ...Target.fields, method: Schema.Literal("device", "browser") }),
      output: Schema.Struct({
        signInId: Schema.String,
        expiresAt: Schema.Date,
        verificationUrl: Schema.optional(Schema.String),
        userCode: Schema.optional(Schema.String),
        intervalSeconds: Schema.optional(Schema.Number),
        authorizeUrl: Schema.optional(Schema.String)
      }),
      run: (input) =>
        Effect.gen(function*() {
          const target = yield* targetOf(input)
          if (input.method === "browser") {
            const started = yield* signIns.startBrowser(target)
            return { signInId: started.id, expiresAt: started.expiresAt, authorizeUrl: started.authorizeUrl }
          }
          const started = yield* signIns.startDevice(target)
          return {
            signInId: started.id,
            expiresAt: started.expiresAt,
            verificationUrl: started.verificationUrl,
            userCode: started.userCode,
            intervalSeconds: started.intervalSeconds
          }
        })
    }),
    defineTool({
      name: "finish_account_login",
      description:
        "Finish a sign-in: a device sign-in by its signInId (pending until the code is entered: call again " +
        "after intervalSeconds), a browser sign-in by the callbackUrl the browser ended on. Done, it returns the " +
        "account, now in its Pool. Audited.",
      scope: "admin",
      input: Schema.Struct({ signInId: Schema.optional(Schema.String), callbackUrl: Schema.optional(Schema.String) }),
      output: Schema.Struct({
        status: Schema.Literal("pending", "done"),
        intervalSeconds: Schema.optional(Schema.Number),
        account: Schema.optional(AccountView)
      }),
      run: (input) =>
        Effect.gen(function*() {
          if ((input.signInId === undefined) === (input.callbackUrl === undefined)) {
            return yield* new InvalidInput({
              message: "give a signInId (device sign-in) or a callbackUrl (browser sign-in), one of them"
            })
          }
          const outcome = input.callbackUrl !== undefined
            ? yield* signIns.finishBrowser(input.callbackUrl)
            : yield* signIns.pollDevice(input.signInId ?? "")
          if (outcome.status === "pending") {
            return { status: "pending" as const, intervalSeconds: outcome.intervalSeconds }
          }
          return { status: "done" as const, account: yield* views.one(outcome.account) }
        })
    })
  ]
})
