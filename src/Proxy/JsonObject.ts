// What the gateway reads of a client's JSON object (an HTTP body or a websocket frame), the same way on every path.

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

// Longer than any model name; a longer one would only be a way to write a large string into a request row.
export const modelLimit = 256

// The `model` a request names, as its key's allow-list judges it: a string of 1 to `modelLimit` characters, or
// undefined when the object has none of that shape (the caller refuses it).
export const modelOf = (object: Readonly<Record<string, unknown>>): string | undefined => {
  const model = object["model"]
  return typeof model === "string" && model !== "" && model.length <= modelLimit ? model : undefined
}

export const modelRule = `"model" must be a string of 1 to ${modelLimit} characters`

const isEscaped = (text: string, quote: number) => {
  let backslashes = 0
  while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++
  return backslashes % 2 === 1
}

// Whether a top-level JSON object repeats a key, in text JSON.parse has accepted. JSON.parse keeps the last of
// duplicate keys while a parser upstream may keep the first: an object with a key twice is refused, so the `model`
// gated is the one upstream reads.
export const hasDuplicateKey = (text: string) => {
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
