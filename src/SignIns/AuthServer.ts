import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Schema } from "effect"
import { AuthUrl } from "../Config.ts"
import { SignInFailed } from "../Domain/Errors.ts"

// Codex's OAuth client (codex-rs/login): the gateway signs accounts in as Codex does, so their tokens are Codex's.
export const CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"

const timeout = "15 seconds"

// Codex reads `interval` as a string ("5"); a number is taken too.
const Interval = Schema.Union(Schema.NumberFromString, Schema.Number).pipe(Schema.filter((n) => n >= 0))
const UserCodeAnswer = Schema.Struct({
  device_auth_id: Schema.NonEmptyString,
  user_code: Schema.optional(Schema.NonEmptyString),
  usercode: Schema.optional(Schema.NonEmptyString),
  interval: Schema.optional(Interval)
})
const DeviceApproval = Schema.Struct({
  authorization_code: Schema.NonEmptyString,
  code_verifier: Schema.NonEmptyString
})
const TokenSet = Schema.Struct({
  id_token: Schema.NonEmptyString,
  access_token: Schema.NonEmptyString,
  refresh_token: Schema.NonEmptyString
})
export type TokenSet = typeof TokenSet.Type
const ErrorCode = Schema.Struct({
  error: Schema.Union(Schema.String, Schema.Struct({ code: Schema.optional(Schema.String) }))
})

const failed = (reason: SignInFailed["reason"], message: string) => new SignInFailed({ reason, message })

const errorCodeOf = (body: unknown) => {
  const decoded = Schema.decodeUnknownOption(ErrorCode)(body)
  if (decoded._tag === "None") return undefined
  const error = decoded.value.error
  return typeof error === "string" ? error : error.code
}

export type DevicePoll =
  | { readonly _tag: "pending"; readonly slowDown: boolean }
  | { readonly _tag: "approved"; readonly code: string; readonly verifier: string }

// The auth server's sign-in endpoints, as Codex's login code calls them (codex-rs/login: device_code_auth.rs,
// server.rs): raw requests, no Codex headers.
export class AuthServer extends Effect.Service<AuthServer>()("Gateway/SignIns/AuthServer", {
  effect: Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const issuer = yield* AuthUrl

    const send = (request: HttpClientRequest.HttpClientRequest) =>
      client.execute(HttpClientRequest.acceptJson(request)).pipe(
        Effect.flatMap((response: HttpClientResponse.HttpClientResponse) =>
          Effect.map(
            response.json.pipe(Effect.orElseSucceed((): unknown => null)),
            (json) => ({ status: response.status, json })
          )
        ),
        Effect.scoped,
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => failed("auth_server", "the auth server did not answer")
        }),
        Effect.catchTags({
          RequestError: () => failed("auth_server", `the auth server at ${issuer} cannot be reached`),
          ResponseError: () => failed("auth_server", "the auth server's answer could not be read")
        })
      )

    const postJson = (path: string, body: unknown) =>
      send(HttpClientRequest.bodyUnsafeJson(HttpClientRequest.post(`${issuer}${path}`), body))

    const unreadable = (what: string) => failed("auth_server", `the auth server's ${what} could not be read`)

    // A device code: what the operator types at the verification page.
    const requestUserCode = Effect.gen(function*() {
      const answer = yield* postJson("/api/accounts/deviceauth/usercode", { client_id: CLIENT_ID })
      if (answer.status === 404) {
        return yield* failed(
          "device_off",
          "device code sign-in is not enabled for this ChatGPT account: turn on device code login in ChatGPT's " +
            "security settings (personal account) or the workspace's permissions (workspace admin), or sign in " +
            "with the browser instead (account login without --device)"
        )
      }
      if (answer.status < 200 || answer.status >= 300) {
        return yield* failed("auth_server", `the auth server refused a device code (status ${answer.status})`)
      }
      const parsed = yield* Schema.decodeUnknown(UserCodeAnswer)(answer.json).pipe(
        Effect.mapError(() => unreadable("device code"))
      )
      const userCode = parsed.user_code ?? parsed.usercode
      if (userCode === undefined) return yield* unreadable("device code")
      return {
        deviceAuthId: parsed.device_auth_id,
        userCode,
        intervalSeconds: parsed.interval ?? 5,
        verificationUrl: `${issuer}/codex/device`
      } as const
    })

    // One poll of a device code. 403/404 are pending (codex-rs/login device_code_auth.rs); a slow_down asks for a
    // longer interval; anything else ends the sign-in.
    const pollDevice = (deviceAuthId: string, userCode: string) =>
      Effect.gen(function*() {
        const answer = yield* postJson("/api/accounts/deviceauth/token", {
          device_auth_id: deviceAuthId,
          user_code: userCode
        })
        const code = errorCodeOf(answer.json)
        if (answer.status === 403 || answer.status === 404) {
          return { _tag: "pending", slowDown: false } satisfies DevicePoll as DevicePoll
        }
        if (answer.status === 429 || code === "slow_down") {
          return { _tag: "pending", slowDown: true } satisfies DevicePoll as DevicePoll
        }
        if (answer.status >= 200 && answer.status < 300) {
          const approved = yield* Schema.decodeUnknown(DeviceApproval)(answer.json).pipe(
            Effect.mapError(() => unreadable("approval"))
          )
          return {
            _tag: "approved",
            code: approved.authorization_code,
            verifier: approved.code_verifier
          } satisfies DevicePoll as DevicePoll
        }
        if (answer.status === 410 || code === "expired_token") {
          return yield* failed("expired", "the device code expired before it was entered: start the sign-in again")
        }
        if (answer.status === 401 || code === "authorization_declined" || code === "access_denied") {
          return yield* failed("denied", "the sign-in was declined at the verification page")
        }
        return yield* failed("auth_server", `the auth server ended the device sign-in (status ${answer.status})`)
      })

    // The authorization code for tokens (grant authorization_code, a form as Codex sends it).
    const exchange = (code: string, verifier: string, redirectUri: string) =>
      Effect.gen(function*() {
        const answer = yield* send(
          HttpClientRequest.post(`${issuer}/oauth/token`).pipe(
            HttpClientRequest.bodyUrlParams({
              grant_type: "authorization_code",
              code,
              redirect_uri: redirectUri,
              client_id: CLIENT_ID,
              code_verifier: verifier
            })
          )
        )
        if (answer.status < 200 || answer.status >= 300) {
          const detail = errorCodeOf(answer.json)
          return yield* failed(
            "exchange_failed",
            `the auth server refused the sign-in's code (status ${answer.status}${detail ? `, ${detail}` : ""})`
          )
        }
        return yield* Schema.decodeUnknown(TokenSet)(answer.json).pipe(Effect.mapError(() => unreadable("tokens")))
      })

    return { issuer, requestUserCode, pollDevice, exchange } as const
  }),
  dependencies: [NodeHttpClient.layerUndici]
}) {}
