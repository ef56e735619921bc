import { Clock, Effect, Option } from "effect"
import { CredentialRejected } from "./Errors.ts"
import { checkSecret, parseSecret, type SecretKind, type StoredSecret } from "./Secret.ts"

// One check for Pool keys and operator tokens: shape, constant-time hash comparison, revocation, expiry.
export const verifyToken = <Row extends StoredSecret, R>(
  kind: SecretKind,
  token: string,
  find: (publicId: string) => Effect.Effect<Option.Option<Row>, never, R>
): Effect.Effect<Row, CredentialRejected, R> =>
  Effect.gen(function*() {
    const parsed = parseSecret(kind, token)
    if (Option.isNone(parsed)) return yield* new CredentialRejected({ kind, reason: "malformed" })
    const row = yield* find(parsed.value.publicId)
    const check = checkSecret(row, parsed.value.secret, new Date(yield* Clock.currentTimeMillis))
    if (check !== "ok" || Option.isNone(row)) {
      return yield* new CredentialRejected({ kind, reason: check === "ok" ? "invalid" : check })
    }
    return row.value
  })
