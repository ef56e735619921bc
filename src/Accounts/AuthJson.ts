import { Effect, Either, Option, ParseResult, Schema } from "effect"
import { AuthJsonInvalid } from "../Domain/Errors.ts"

const Token = Schema.String.pipe(Schema.nonEmptyString({ message: () => "must be a non-empty string" }))

const AuthFile = Schema.Struct({
  tokens: Schema.Struct({
    id_token: Token,
    access_token: Token,
    refresh_token: Token,
    account_id: Schema.optional(Schema.NullOr(Schema.String))
  }),
  last_refresh: Schema.optional(Schema.NullOr(Schema.String))
})

const Claims = Schema.Struct({
  email: Schema.optional(Schema.String),
  exp: Schema.optional(Schema.Number),
  "https://api.openai.com/profile": Schema.optional(Schema.Struct({ email: Schema.optional(Schema.String) })),
  "https://api.openai.com/auth": Schema.optional(Schema.Struct({
    chatgpt_plan_type: Schema.optional(Schema.String),
    chatgpt_user_id: Schema.optional(Schema.String),
    user_id: Schema.optional(Schema.String),
    chatgpt_account_id: Schema.optional(Schema.String),
    chatgpt_account_is_fedramp: Schema.optional(Schema.Boolean)
  }))
})
type Claims = typeof Claims.Type

export interface UpstreamCredentials {
  readonly chatgptAccountId: string
  readonly chatgptUserId: string
  readonly email: string | null
  readonly plan: string | null
  readonly fedramp: boolean
  readonly idToken: string
  readonly accessToken: string
  readonly refreshToken: string
  readonly accessExpiresAt: Date | null
  readonly lastRefreshAt: Date | null
}

// Codex decodes JWT payloads without verifying them (codex-protocol.md §10.2); the gateway does the same.
export const decodeJwtClaims = (jwt: string): Option.Option<Claims> => {
  const parts = jwt.split(".")
  if (parts.length !== 3 || parts.some((part) => part === "")) return Option.none()
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString("utf8"))
    return Schema.decodeUnknownOption(Claims)(payload)
  } catch {
    return Option.none()
  }
}

const invalid = (message: string) => new AuthJsonInvalid({ message })

const dateOrNull = (value: string | null | undefined) => {
  const date = value ? new Date(value) : undefined
  return date !== undefined && !Number.isNaN(date.getTime()) ? date : null
}

export const parseAuthJson = (text: string): Effect.Effect<UpstreamCredentials, AuthJsonInvalid> =>
  Effect.gen(function*() {
    const json = yield* Either.try((): unknown => JSON.parse(text)).pipe(
      Either.mapLeft(() => invalid("auth.json is not valid JSON"))
    )
    const file = yield* Schema.decodeUnknownEither(AuthFile, { errors: "all" })(json).pipe(
      Either.mapLeft((error) =>
        invalid(
          `auth.json has no ChatGPT tokens: ${
            ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
              `${issue.path.join(".")} ${issue.message}`.trim()
            ).join("; ")
          }`
        )
      )
    )
    return yield* credentialsFromTokens(file.tokens, dateOrNull(file.last_refresh))
  })

// What a token set (an auth.json's `tokens`, or what a sign-in's code exchange answered) says of its account: the
// id_token's claims name the ChatGPT user and workspace; the access token's `exp` its expiry.
export const credentialsFromTokens = (
  tokens: {
    readonly id_token: string
    readonly access_token: string
    readonly refresh_token: string
    readonly account_id?: string | null | undefined
  },
  lastRefreshAt: Date | null
): Either.Either<UpstreamCredentials, AuthJsonInvalid> =>
  Either.gen(function*() {
    const claims = yield* Option.match(decodeJwtClaims(tokens.id_token), {
      onNone: () => Either.left(invalid("tokens.id_token is not a readable JWT")),
      onSome: Either.right
    })
    const auth = claims["https://api.openai.com/auth"]
    const chatgptAccountId = tokens.account_id || auth?.chatgpt_account_id
    if (!chatgptAccountId) {
      return yield* Either.left(invalid(
        "no ChatGPT account id: tokens.account_id and the id_token's chatgpt_account_id are both missing"
      ))
    }
    const exp = decodeJwtClaims(tokens.access_token).pipe(Option.flatMapNullable((access) => access.exp))
    return {
      chatgptAccountId,
      chatgptUserId: auth?.chatgpt_user_id ?? auth?.user_id ?? "",
      email: claims.email ?? claims["https://api.openai.com/profile"]?.email ?? null,
      plan: auth?.chatgpt_plan_type ?? null,
      fedramp: auth?.chatgpt_account_is_fedramp ?? false,
      idToken: tokens.id_token,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      accessExpiresAt: Option.match(exp, { onNone: () => null, onSome: (seconds) => new Date(seconds * 1000) }),
      lastRefreshAt
    }
  })
