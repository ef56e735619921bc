import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Option, Redacted, Schema } from "effect"
import { AuthUrl } from "../Config.ts"
import { RefreshFailed, RefreshRejected } from "./Errors.ts"

const CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"

export const REFRESH_TIMEOUT_SECONDS = 15

export type RefreshReason = "proactive_expiry" | "unauthorized_recovery"

const Token = Schema.optional(Schema.NullOr(Schema.String))
const TokenAnswer = Schema.Struct({ id_token: Token, access_token: Token, refresh_token: Token })

export interface RefreshedTokens {
  readonly idToken: Option.Option<string>
  readonly accessToken: Option.Option<string>
  readonly refreshToken: Option.Option<string>
}

const permanentCodes: ReadonlySet<string> = new Set([
  "refresh_token_expired",
  "refresh_token_reused",
  "refresh_token_invalidated"
])

const NestedCode = Schema.Struct({ error: Schema.Struct({ code: Schema.String }) })
const ErrorString = Schema.Struct({ error: Schema.String })
const TopLevelCode = Schema.Struct({ code: Schema.String })

// Codex reads the failure code from `error.code`, then an `error` string, then a top-level `code`.
export const refreshErrorCode = (body: unknown): Option.Option<string> =>
  Schema.decodeUnknownOption(NestedCode)(body).pipe(
    Option.map((parsed) => parsed.error.code),
    Option.orElse(() => Schema.decodeUnknownOption(ErrorString)(body).pipe(Option.map((parsed) => parsed.error))),
    Option.orElse(() => Schema.decodeUnknownOption(TopLevelCode)(body).pipe(Option.map((parsed) => parsed.code))),
    Option.map((code) => code.toLowerCase())
  )

// Only a 401 with one of these codes means the refresh token is dead; any other answer may succeed later.
export const permanentRefreshFailure = (status: number, body: unknown): Option.Option<string> =>
  Option.filter(refreshErrorCode(body), (code) => status === 401 && permanentCodes.has(code))

const present = (value: string | null | undefined) => Option.filter(Option.fromNullable(value), (text) => text !== "")

const interpret = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.gen(function*() {
    const body = yield* response.json.pipe(Effect.orElseSucceed((): unknown => undefined))
    if (response.status >= 200 && response.status < 300) {
      const answer = yield* Schema.decodeUnknown(TokenAnswer)(body).pipe(
        Effect.mapError(() => new RefreshFailed({ detail: `unreadable answer (status ${response.status})` }))
      )
      return {
        idToken: present(answer.id_token),
        accessToken: present(answer.access_token),
        refreshToken: present(answer.refresh_token)
      } satisfies RefreshedTokens
    }
    const permanent = permanentRefreshFailure(response.status, body)
    if (Option.isSome(permanent)) return yield* new RefreshRejected({ code: permanent.value })
    const code = Option.match(refreshErrorCode(body), { onNone: () => "", onSome: (value) => ` (${value})` })
    return yield* new RefreshFailed({ detail: `status ${response.status}${code}` })
  })

export class RefreshClient extends Effect.Service<RefreshClient>()("Gateway/AccountCredentials/RefreshClient", {
  effect: Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const url = `${yield* AuthUrl}/oauth/token`

    const refresh = Effect.fn("RefreshClient.refresh")(
      (refreshToken: Redacted.Redacted<string>, reason: RefreshReason) =>
        HttpClientRequest.post(url).pipe(
          HttpClientRequest.acceptJson,
          HttpClientRequest.bodyUnsafeJson({
            client_id: CLIENT_ID,
            grant_type: "refresh_token",
            refresh_token: Redacted.value(refreshToken),
            refresh_reason: reason
          }),
          client.execute,
          Effect.flatMap(interpret),
          Effect.timeoutFail({
            duration: `${REFRESH_TIMEOUT_SECONDS} seconds`,
            onTimeout: () => new RefreshFailed({ detail: "timed out" })
          }),
          Effect.catchTags({
            RequestError: (error) => new RefreshFailed({ detail: `${error.reason} error` }),
            ResponseError: (error) => new RefreshFailed({ detail: `${error.reason} error` })
          })
        )
    )

    return { refresh } as const
  }),
  dependencies: [NodeHttpClient.layerUndici]
}) {}
