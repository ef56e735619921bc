const quote = 0x22
const backslash = 0x5c

// The raw JSON text of one top-level member of an object (`"usage"` of a compact answer), found as the body's bytes
// pass by: a scanner that tracks nesting and strings, holding only that member's value, up to `limit` bytes. A
// body of any size is scanned without being kept; a value past the bound, or a body that is no object, gives none.
export const makeTopLevelValue = (name: string, limit: number) => {
  const wanted = new TextEncoder().encode(name)
  let depth = 0
  let topIsObject = false
  let inString = false
  let escaped = false
  // at depth 1 of the top object: a key comes next (after `{` or `,`), not a value (after `:`)
  let expectKey = false
  let keyLength = -1
  let keyMatches = false
  let lastKeyMatches = false
  let capture: Array<Uint8Array> | null = null
  let captured = 0
  let found: Uint8Array | null = null
  let overflow = false

  const keep = (part: Uint8Array) => {
    if (capture === null) return
    captured += part.length
    if (captured > limit) {
      capture = null
      overflow = true
    } else capture.push(part)
  }

  const keyByte = (byte: number) => {
    if (keyLength < 0) return
    keyMatches = keyMatches && keyLength < wanted.length && wanted[keyLength] === byte
    keyLength++
  }

  const observe = (chunk: Uint8Array) => {
    let from = capture === null ? -1 : 0
    for (let index = 0; index < chunk.length; index++) {
      const byte = chunk[index] ?? 0
      if (inString) {
        if (escaped) escaped = false
        else if (byte === backslash) escaped = true
        else if (byte === quote) {
          inString = false
          if (keyLength >= 0) lastKeyMatches = keyMatches && keyLength === wanted.length
          keyLength = -1
        } else keyByte(byte)
        // an escape inside a key never matches a plain name
        if (escaped) keyMatches = false
        continue
      }
      if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue
      const atTop = depth === 1 && topIsObject
      if (atTop && capture !== null && (byte === 0x2c || byte === 0x7d)) {
        keep(chunk.subarray(from, index))
        if (capture !== null) found = Buffer.concat(capture)
        capture = null
        from = -1
      }
      if (byte === quote) {
        inString = true
        if (atTop && expectKey) {
          keyLength = 0
          keyMatches = true
          expectKey = false
        }
      } else if (byte === 0x7b || byte === 0x5b) {
        if (depth === 0) topIsObject = byte === 0x7b
        depth++
        if (depth === 1) expectKey = true
      } else if (byte === 0x7d || byte === 0x5d) {
        depth--
      } else if (atTop && byte === 0x2c) {
        expectKey = true
      } else if (atTop && byte === 0x3a && lastKeyMatches && !overflow) {
        lastKeyMatches = false
        capture = []
        captured = 0
        from = index + 1
      }
    }
    if (capture !== null && from >= 0) keep(chunk.subarray(from))
  }

  return { observe, value: () => found } as const
}
