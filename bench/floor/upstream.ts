import { Agent } from "undici"

// What every floor server shares: the fake upstream, the account it swaps in, one undici keep-alive agent.
// The same variables as bench/pipe-proxy.ts, so the bench hands one environment to every server.
const need = (name: string) => {
  const value = process.env[name]
  if (value === undefined || value === "") throw new Error(`${name} is required`)
  return value
}

export const upstreamOrigin = need("PIPE_UPSTREAM_ORIGIN")
const accessToken = need("PIPE_ACCESS_TOKEN")
const accountId = need("PIPE_ACCOUNT_ID")

export const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 })

type HeadersIn = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

const hopByHop = ["host", "connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te"]
const clientOnly = new Set([...hopByHop, "authorization", "chatgpt-account-id"])
const hopByHopSet = new Set(hopByHop)

const copy = (headers: HeadersIn, drop: ReadonlySet<string>) => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !drop.has(name)) out[name] = typeof value === "string" ? value : value.join(", ")
  }
  return out
}

export const upstreamHeaders = (headers: HeadersIn) => ({
  ...copy(headers, clientOnly),
  authorization: `Bearer ${accessToken}`,
  "chatgpt-account-id": accountId
})

export const responseHeaders = (headers: HeadersIn) => copy(headers, hopByHopSet)
