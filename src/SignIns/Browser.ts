import { Either } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { SignInFailed } from "../Domain/Errors.ts"
import { CLIENT_ID } from "./AuthServer.ts"

// The only redirect Codex's client may use (codex-rs/login server.rs): the browser ends on this address whoever
// signs in, so on a remote gateway the operator pastes it back.
export const callbackPorts = ["1455", "1457"] as const
export const redirectUri = "http://localhost:1455/auth/callback"

const scopes = "openid profile email offline_access"

// A PKCE pair (64 random bytes, S256) and a state (32 random bytes), as Codex makes them.
export const newPkce = () => {
  const verifier = randomBytes(64).toString("base64url")
  return {
    verifier,
    challenge: createHash("sha256").update(verifier).digest("base64url"),
    state: randomBytes(32).toString("base64url")
  } as const
}

// The state is kept as its hash: the database never holds what would finish a flow.
export const stateHash = (state: string) => createHash("sha256").update(state).digest("hex")

// Codex's authorize address, its parameters in Codex's order.
export const authorizeUrl = (issuer: string, challenge: string, state: string) => {
  const params: ReadonlyArray<readonly [string, string]> = [
    ["response_type", "code"],
    ["client_id", CLIENT_ID],
    ["redirect_uri", redirectUri],
    ["scope", scopes],
    ["code_challenge", challenge],
    ["code_challenge_method", "S256"],
    ["id_token_add_organizations", "true"],
    ["codex_cli_simplified_flow", "true"],
    ["state", state],
    ["originator", "codex_cli_rs"]
  ]
  return `${issuer}/oauth/authorize?${params.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join("&")}`
}

export type Callback =
  | { readonly _tag: "code"; readonly state: string; readonly code: string }
  | { readonly _tag: "error"; readonly state: string; readonly error: string; readonly description: string | null }

const maxLength = 8192

const bad = (message: string) => Either.left(new SignInFailed({ reason: "bad_callback", message }))

const only = (params: URLSearchParams, name: string) => params.getAll(name)

// The address the browser ended on, pasted back or received on the callback port: held to exactly what Codex's
// callback takes (http, localhost, port 1455 or 1457, /auth/callback, one state, one code or one error), each
// departure with its own message.
export const parseCallback = (text: string): Either.Either<Callback, SignInFailed> => {
  const pasted = text.trim()
  const example = "http://localhost:1455/auth/callback?code=…&state=…"
  if (pasted === "") return bad(`nothing was pasted: paste the whole address the browser ended on (${example})`)
  if (pasted.length > maxLength) return bad(`the pasted address is longer than ${maxLength} characters`)
  if (!URL.canParse(pasted)) return bad(`the pasted text is not an address: paste the whole of it (${example})`)
  const url = new URL(pasted)
  if (url.protocol !== "http:") return bad(`the address must start with http:// (it starts with ${url.protocol}//)`)
  if (url.username !== "" || url.password !== "") return bad("the address must not carry a user name or password")
  if (url.hostname !== "localhost" && url.hostname !== "127.0.0.1") {
    return bad(`the address must be on localhost (it is on ${url.hostname})`)
  }
  if (!(callbackPorts as ReadonlyArray<string>).includes(url.port)) {
    return bad(`the address must be on port 1455 (it is on port ${url.port === "" ? "80" : url.port})`)
  }
  if (url.pathname !== "/auth/callback") return bad(`the address must end in /auth/callback (it is ${url.pathname})`)
  const states = only(url.searchParams, "state")
  if (states.length !== 1 || states[0] === "") {
    return bad(
      `the address must carry exactly one state (it carries ${states.length === 1 ? "an empty one" : states.length})`
    )
  }
  const state = states[0] ?? ""
  const codes = only(url.searchParams, "code")
  const errors = only(url.searchParams, "error")
  if (codes.length > 0 && errors.length > 0) return bad("the address carries both a code and an error")
  if (codes.length > 1) return bad(`the address carries ${codes.length} codes; it must carry one`)
  if (errors.length > 1) return bad(`the address carries ${errors.length} errors; it must carry one`)
  const [code] = codes
  const [error] = errors
  if (code !== undefined) {
    return code === ""
      ? bad("the address's code is empty")
      : Either.right({ _tag: "code", state, code })
  }
  if (error !== undefined) {
    const descriptions = only(url.searchParams, "error_description")
    return Either.right({
      _tag: "error",
      state,
      error,
      description: descriptions.length === 1 ? descriptions[0] ?? null : null
    })
  }
  return bad("the address carries neither a code nor an error: the sign-in did not finish")
}
