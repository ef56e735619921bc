import { HttpApiSchema } from "@effect/platform"
import { Data, Schema } from "effect"

export class AccountUnavailable extends Schema.TaggedError<AccountUnavailable>()("AccountUnavailable", {
  accountId: Schema.String,
  reason: Schema.Literal("reauth_required", "refresh_failed", "not_active")
}, HttpApiSchema.annotations({ status: 503 })) {
  override get message() {
    switch (this.reason) {
      case "reauth_required":
        return `account ${this.accountId} must be signed in again: its refresh token was rejected`
      case "refresh_failed":
        return `account ${this.accountId} could not refresh its access token; try again later`
      default:
        return `account ${this.accountId} is not active`
    }
  }
}

// The auth server rejected the refresh token for good (codex-protocol.md §10.3): only a new login helps.
export class RefreshRejected extends Data.TaggedError("RefreshRejected")<{ readonly code: string }> {}

// Anything else (network, timeout, 5xx, an answer we cannot read) is transient: the account is left as it is.
export class RefreshFailed extends Data.TaggedError("RefreshFailed")<{ readonly detail: string }> {}
