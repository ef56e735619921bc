import { isObject } from "../Proxy/JsonObject.ts"

// One event of the Codex backend's Responses stream: the JSON of an SSE `data:` line (codex-protocol.md §4).
export interface UpstreamEvent {
  readonly type: string
  readonly [field: string]: unknown
}

// Like Codex CLI, the event's own `type` counts and the SSE `event:` line does not; data that is no JSON object with
// a string type is no event.
export const parseUpstreamEvent = (data: string): UpstreamEvent | null => {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return null
  }
  return isObject(value) && typeof value["type"] === "string" ? { ...value, type: value["type"] } : null
}

const memberOf = (value: unknown, key: string): unknown => isObject(value) ? value[key] : undefined

export const objectAt = (value: unknown, key: string): Readonly<Record<string, unknown>> => {
  const member = memberOf(value, key)
  return isObject(member) ? member : {}
}

export const stringAt = (value: unknown, key: string): string | undefined => {
  const member = memberOf(value, key)
  return typeof member === "string" ? member : undefined
}

export const numberAt = (value: unknown, key: string): number | undefined => {
  const member = memberOf(value, key)
  return typeof member === "number" ? member : undefined
}

export const listAt = (value: unknown, key: string): ReadonlyArray<unknown> => {
  const member = memberOf(value, key)
  return Array.isArray(member) ? member : []
}
