import { Effect } from "effect"
import { InvalidQuery } from "./Errors.ts"

// A query value passed upstream: a short token, as Codex sends (`intent=quicksilver&architecture=avas`).
export const queryToken = /^[A-Za-z0-9._-]{1,64}$/

const paramsOf = (url: string) => new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?") + 1) : "")

// The named parameters of a request's query, parsed: each at most once and held to its pattern (400 otherwise), in
// the order named; any other parameter is dropped.
export const readQuery = <Name extends string>(url: string, rules: ReadonlyArray<readonly [Name, RegExp]>) => {
  const params = paramsOf(url)
  const kept = new Map<Name, string>()
  for (const [name, pattern] of rules) {
    const values = params.getAll(name)
    if (values.length === 0) continue
    const [value] = values
    if (values.length > 1 || value === undefined || !pattern.test(value)) {
      return Effect.fail(
        new InvalidQuery({ message: `query parameter ${name} must appear once, as ${pattern.source}` })
      )
    }
    kept.set(name, value)
  }
  return Effect.succeed<ReadonlyMap<Name, string>>(kept)
}

// The query passed upstream: the named parameters, each a short token; "" when none is there. Most routes name none,
// and their query is not even parsed.
export const forwardedQuery = (url: string, names: ReadonlyArray<string>) =>
  names.length === 0
    ? Effect.succeed("")
    : Effect.map(readQuery(url, names.map((name) => [name, queryToken] as const)), (kept) => {
      const text = new URLSearchParams([...kept]).toString()
      return text === "" ? "" : `?${text}`
    })
