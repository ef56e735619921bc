import { Schema } from "effect"

export class UnsupportedEndpoint extends Schema.TaggedError<UnsupportedEndpoint>()("UnsupportedEndpoint", {
  method: Schema.String,
  path: Schema.String
}) {
  override get message() {
    return `${this.method} ${this.path} is not an endpoint of this gateway`
  }
}

export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", {
  method: Schema.String,
  path: Schema.String,
  allow: Schema.Array(Schema.String)
}) {
  override get message() {
    return `${this.method} is not allowed on ${this.path}; use ${this.allow.join(" or ")}`
  }
}

export class BodyTooLarge extends Schema.TaggedError<BodyTooLarge>()("BodyTooLarge", { limit: Schema.Number }) {
  override get message() {
    return `request body is larger than ${this.limit} bytes`
  }
}

export class UnsupportedEncoding extends Schema.TaggedError<UnsupportedEncoding>()("UnsupportedEncoding", {
  encoding: Schema.String
}) {
  override get message() {
    return `Content-Encoding "${this.encoding}" is not supported; send identity, gzip or zstd`
  }
}

export class InvalidBody extends Schema.TaggedError<InvalidBody>()("InvalidBody", { message: Schema.String }) {}

export class UpgradeRequired extends Schema.TaggedError<UpgradeRequired>()("UpgradeRequired", {}) {
  override get message() {
    return "this endpoint speaks websocket here; upgrade the connection or use HTTP POST /responses"
  }
}

export class NoAccountAvailable extends Schema.TaggedError<NoAccountAvailable>()("NoAccountAvailable", {
  reason: Schema.Literal("empty_pool", "none_eligible")
}) {
  override get message() {
    return this.reason === "empty_pool"
      ? "this Pool has no active accounts"
      : "no account of this Pool can serve the request right now"
  }
}

export class UpstreamUnavailable extends Schema.TaggedError<UpstreamUnavailable>()("UpstreamUnavailable", {
  reason: Schema.String
}) {
  override get message() {
    return `the Codex backend could not be reached: ${this.reason}`
  }
}

export class PoolExhausted
  extends Schema.TaggedError<PoolExhausted>()("PoolExhausted", { resetsAt: Schema.DateFromSelf })
{
  override get message() {
    return "Every account of this Pool has reached its usage limit"
  }
}

export class KeyLimitExceeded extends Schema.TaggedError<KeyLimitExceeded>()("KeyLimitExceeded", {
  limit: Schema.Literal("requests_per_minute", "tokens_per_day", "concurrent_streams"),
  retryAfterSeconds: Schema.Number
}) {
  override get message() {
    const what = {
      requests_per_minute: "requests per minute",
      tokens_per_day: "tokens per day",
      concurrent_streams: "concurrent streams"
    }[this.limit]
    return `This Pool API key is over its limit of ${what}; try again in ${this.retryAfterSeconds}s`
  }
}

export class ModelNotAllowed
  extends Schema.TaggedError<ModelNotAllowed>()("ModelNotAllowed", { model: Schema.String })
{
  override get message() {
    return `model ${this.model} is not allowed for this Pool API key`
  }
}

// The gateway's own database did not answer: nothing was sent upstream, and trying again shortly is safe.
export class DatabaseUnavailable extends Schema.TaggedError<DatabaseUnavailable>()("DatabaseUnavailable", {}) {
  override get message() {
    return "the gateway cannot reach its database right now; try again shortly"
  }
}

// A bug: logged where it happens, answered without detail.
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", {}) {
  override get message() {
    return "the gateway failed unexpectedly; the failure has been logged"
  }
}

export class InvalidQuery extends Schema.TaggedError<InvalidQuery>()("InvalidQuery", { message: Schema.String }) {}

// A redemption of a saved reset that cannot start now: another is under way for the account, or the request id
// belongs to another one.
export class RedemptionConflict extends Schema.TaggedError<RedemptionConflict>()("RedemptionConflict", {
  message: Schema.String
}) {}

// A websocket upgrade the gateway refuses before anything reaches upstream (what ws itself would refuse).
export class WebSocketHandshakeInvalid
  extends Schema.TaggedError<WebSocketHandshakeInvalid>()("WebSocketHandshakeInvalid", {
    reason: Schema.Literal("upgrade", "key", "version", "gone")
  })
{
  override get message() {
    return {
      upgrade: "a websocket upgrade needs Upgrade: websocket",
      key: "a websocket upgrade needs a Sec-WebSocket-Key of 16 bytes in base64",
      version: "a websocket upgrade needs Sec-WebSocket-Version: 13",
      gone: "the websocket handshake could not be completed"
    }[this.reason]
  }
}

export class WebSocketNotSupported extends Schema.TaggedError<WebSocketNotSupported>()("WebSocketNotSupported", {
  path: Schema.String
}) {
  override get message() {
    return `${this.path} does not accept websocket upgrades; only GET /backend-api/codex/responses and ` +
      "GET /backend-api/codex/realtime do"
  }
}

// A realtime join naming no live call of the key's Pool: unknown, expired and another Pool's are the same answer.
export class RealtimeCallNotFound extends Schema.TaggedError<RealtimeCallNotFound>()("RealtimeCallNotFound", {}) {
  override get message() {
    return "no realtime call of this Pool has that call_id; make the call with POST /backend-api/codex/realtime/calls"
  }
}

export class OpenWebSocketsExceeded extends Schema.TaggedError<OpenWebSocketsExceeded>()("OpenWebSocketsExceeded", {
  limit: Schema.Number
}) {
  override get message() {
    return `This Pool API key already has ${this.limit} open websockets; close one or use HTTP`
  }
}

// A client frame the bridge does not forward (not a JSON object, binary, or a response.create without a model).
export class WebSocketFrameInvalid extends Schema.TaggedError<WebSocketFrameInvalid>()("WebSocketFrameInvalid", {
  message: Schema.String
}) {}

// A /v1 request with a key of a Pool whose /v1 is turned off (`pool set-v1 <slug> off`).
export class V1Disabled extends Schema.TaggedError<V1Disabled>()("V1Disabled", {}) {
  override get message() {
    return "This Pool's keys cannot use /v1: an operator has turned it off for the Pool"
  }
}
