import { Schema } from "effect"

export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  message: Schema.String
}) {}

export class PoolNotFound extends Schema.TaggedError<PoolNotFound>()("PoolNotFound", { slug: Schema.String }) {
  override get message() {
    return `no pool with slug "${this.slug}"`
  }
}

export class PoolSlugTaken extends Schema.TaggedError<PoolSlugTaken>()("PoolSlugTaken", { slug: Schema.String }) {
  override get message() {
    return `a pool with slug "${this.slug}" already exists`
  }
}

export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  kind: Schema.Literal("account", "key", "operator token"),
  id: Schema.String
}) {
  override get message() {
    return `no ${this.kind} with id "${this.id}"`
  }
}

export class AuthJsonInvalid extends Schema.TaggedError<AuthJsonInvalid>()("AuthJsonInvalid", {
  message: Schema.String
}) {}

export class CredentialRejected extends Schema.TaggedError<CredentialRejected>()("CredentialRejected", {
  kind: Schema.Literal("cpk", "cpo"),
  reason: Schema.Literal("missing", "malformed", "invalid", "revoked", "expired", "pool_disabled")
}) {
  // "malformed", "invalid" (unknown id or wrong secret) read the same, so a caller learns nothing about which ids exist.
  override get message() {
    const what = this.kind === "cpk" ? "Pool API key" : "operator token"
    switch (this.reason) {
      case "missing":
        return `Missing ${what}: send Authorization: Bearer <${this.kind}_…>`
      case "revoked":
        return `This ${what} has been revoked`
      case "expired":
        return `This ${what} has expired`
      case "pool_disabled":
        return "The Pool of this key is disabled"
      default:
        return `Invalid ${what}`
    }
  }
}

// A saved reset is not redeemed: the account is not resting at its usage limit, is known to have none left, another
// redemption for it is under way, or the request id was used for another account.
export class RedemptionRefused extends Schema.TaggedError<RedemptionRefused>()("RedemptionRefused", {
  accountId: Schema.String,
  reason: Schema.Literal("not_at_limit", "no_credit", "in_progress", "request_id_reused")
}) {
  override get message() {
    switch (this.reason) {
      case "not_at_limit":
        return `account ${this.accountId} is not resting at its usage limit: there is nothing to reset`
      case "no_credit":
        return `account ${this.accountId} has no saved reset left`
      case "in_progress":
        return `a redemption for account ${this.accountId} is already under way`
      case "request_id_reused":
        return `this request id was used for another redemption than account ${this.accountId}`
    }
  }
}

// Upstream did not confirm a redemption (an error, no answer, or one not understood). Nothing changed here; the same
// request id may be tried again, and upstream never redeems twice under it.
export class RedemptionFailed extends Schema.TaggedError<RedemptionFailed>()("RedemptionFailed", {
  accountId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `upstream did not confirm the redemption for account ${this.accountId} (${this.reason}); ` +
      "retrying with the same request id is safe"
  }
}

// A sign-in again for one account by another ChatGPT user or workspace: nothing is written.
export class WrongSeat extends Schema.TaggedError<WrongSeat>()("WrongSeat", {
  accountId: Schema.String,
  email: Schema.NullOr(Schema.String)
}) {
  override get message() {
    return `the ChatGPT user who signed in (${this.email ?? "no e-mail"}) is not account ${this.accountId}'s: ` +
      "nothing was changed; sign in as that account's user and workspace"
  }
}

// A sign-in through the gateway that did not end with an account. `message` is the one line an operator reads.
export class SignInFailed extends Schema.TaggedError<SignInFailed>()("SignInFailed", {
  reason: Schema.Literal(
    "device_off",
    "denied",
    "expired",
    "cancelled",
    "no_codex",
    "exchange_failed",
    "auth_server",
    "unknown_sign_in",
    "bad_callback"
  ),
  message: Schema.String
}) {}
