import { Effect } from "effect"
import { InvalidQuery } from "../Proxy/Errors.ts"

const maxLength = 32

// A release (0.169.0) or a pre-release (0.170.0-alpha.2), the only shapes Codex sends (codex-protocol.md §2.3).
const version = /^\d{1,6}(?:\.\d{1,6}){0,3}(?:-[0-9A-Za-z]{1,16}(?:\.[0-9A-Za-z]{1,16}){0,3})?$/

// The one query parameter of `GET /models`, which Codex always sends. Anything else in the query is ignored and never
// goes upstream: the catalog is keyed, and fetched, by this value alone.
export const clientVersionOf = (url: string): Effect.Effect<string, InvalidQuery> => {
  const values = new URL(url, "http://gateway").searchParams.getAll("client_version")
  const value = values[0]
  if (value === undefined || values.length !== 1) {
    return new InvalidQuery({ message: "GET /models wants exactly one client_version query parameter" })
  }
  return value.length <= maxLength && version.test(value)
    ? Effect.succeed(value)
    : new InvalidQuery({ message: "client_version must be a Codex version such as 0.169.0" })
}
