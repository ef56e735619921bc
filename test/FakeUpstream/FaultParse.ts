import { isRecord, numberField, stringField } from "./Json.ts"
import type { Fault } from "./Types.ts"

const num = <K extends string>(source: unknown, key: K): { [P in K]?: number } => {
  const value = numberField(source, key)
  const out: { [P in K]?: number } = {}
  if (value !== undefined) out[key] = value
  return out
}

const str = <K extends string>(source: unknown, key: K): { [P in K]?: string } => {
  const value = stringField(source, key)
  const out: { [P in K]?: string } = {}
  if (value !== undefined) out[key] = value
  return out
}

const upgrade = (source: unknown): { onUpgrade?: boolean; onUsage?: boolean } => ({
  ...(isRecord(source) && source["onUpgrade"] === true ? { onUpgrade: true } : {}),
  ...(isRecord(source) && source["onUsage"] === true ? { onUsage: true } : {})
})

// Accepts a bare kind ("usage_limit") or an object ({ "kind": "stall", "ms": 200 }), e.g. from the admin endpoint
export const parseFault = (source: unknown): Fault | undefined => {
  const kind = typeof source === "string" ? source : stringField(source, "kind")
  switch (kind) {
    case "usage_limit":
      return { kind, ...num(source, "resetsInSeconds"), ...upgrade(source) }
    case "usage_not_included":
    case "plain_429":
    case "unauthorized":
      return { kind, ...upgrade(source) }
    case "retryable_429":
      return { kind, ...num(source, "retryAfterSeconds"), ...upgrade(source) }
    case "http_500":
      return { kind, ...num(source, "status"), ...upgrade(source) }
    case "overloaded": {
      const code = stringField(source, "code")
      return { kind, ...(code === "slow_down" || code === "server_is_overloaded" ? { code } : {}), ...upgrade(source) }
    }
    case "failed_event":
      return { kind, ...str(source, "code"), ...str(source, "message") }
    case "incomplete":
      return { kind, ...str(source, "reason") }
    case "disconnect_mid_stream":
      return { kind, ...num(source, "afterEvents") }
    case "stall":
      return { kind, ...num(source, "ms") }
    case "flood": {
      const frames = num(source, "frames").frames ?? 16
      const bytes = num(source, "bytes").bytes ?? 1024 * 1024
      return { kind, frames, bytes }
    }
    case "connection_reset":
    case "ws_426":
    case "ws_404":
    case "ws_connection_limit":
    case "refresh_token_expired":
      return { kind }
    default:
      return undefined
  }
}
