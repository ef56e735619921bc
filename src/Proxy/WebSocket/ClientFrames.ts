import { WebSocketFrameInvalid } from "../Errors.ts"

export type ClientFrame =
  | { readonly _tag: "Create"; readonly model: string }
  | { readonly _tag: "Other" }
  | { readonly _tag: "Refused"; readonly error: WebSocketFrameInvalid }

// Longer than any model name; a longer one would only be a way to write a large string into a request row.
const modelLimit = 256

const refused = (message: string): ClientFrame => ({ _tag: "Refused", error: new WebSocketFrameInvalid({ message }) })

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

// The keys of a top-level JSON object, in order, as written (text JSON.parse has accepted). JSON.parse keeps the
// last of duplicate keys while another parser upstream may keep the first: a frame with a key twice is refused, so
// the `model` gated is the one upstream reads.
const hasDuplicateKey = (text: string) => {
  const keys = new Set<string>()
  let depth = 0
  let expectKey = false
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i)
    if (char === 0x22) {
      let end = text.indexOf("\"", i + 1)
      while (isEscaped(text, end)) end = text.indexOf("\"", end + 1)
      if (depth === 1 && expectKey) {
        const key = String(JSON.parse(text.slice(i, end + 1)))
        if (keys.has(key)) return true
        keys.add(key)
        expectKey = false
      }
      i = end
    } else if (char === 0x7b || char === 0x5b) {
      depth++
      expectKey = depth === 1
    } else if (char === 0x7d || char === 0x5d) depth--
    else if (char === 0x2c && depth === 1) expectKey = true
  }
  return false
}

const isEscaped = (text: string, quote: number) => {
  let backslashes = 0
  while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++
  return backslashes % 2 === 1
}

// Every client frame is parsed (ws holds frames to maxPayload) and judged on its parsed top-level `type` and
// `model`: a response.create is gated by the key's policy, any other object is forwarded as it came (Codex may send
// control frames such as response.interrupt, codex-protocol.md §5), and anything else is refused.
export const readClientFrame = (data: Buffer, isBinary: boolean): ClientFrame => {
  if (isBinary) return refused("binary frames are not part of this protocol; send JSON text frames")
  const text = data.toString("utf8")
  const frame = parse(text)
  if (!isObject(frame)) return refused("a frame must be one JSON object")
  if (typeof frame["type"] !== "string") return refused("a frame needs a string type")
  if (hasDuplicateKey(text)) return refused("a frame must not repeat a key")
  if (frame["type"] !== "response.create") return { _tag: "Other" }
  const model = frame["model"]
  if (typeof model !== "string" || model === "" || model.length > modelLimit) {
    return refused(`response.create needs a model: a string of 1 to ${modelLimit} characters`)
  }
  return { _tag: "Create", model }
}
