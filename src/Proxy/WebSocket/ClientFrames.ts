import { WebSocketFrameInvalid } from "../Errors.ts"
import { hasDuplicateKey, isObject, modelOf, modelRule } from "../JsonObject.ts"

export type ClientFrame =
  | { readonly _tag: "Create"; readonly model: string }
  | { readonly _tag: "Other" }
  | { readonly _tag: "Refused"; readonly error: WebSocketFrameInvalid }

const refused = (message: string): ClientFrame => ({ _tag: "Refused", error: new WebSocketFrameInvalid({ message }) })

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
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
  const model = modelOf(frame)
  return model === undefined ? refused(`response.create needs a model: ${modelRule}`) : { _tag: "Create", model }
}
