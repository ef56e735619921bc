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
