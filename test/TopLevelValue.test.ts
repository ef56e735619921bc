import { describe, expect, it } from "@effect/vitest"
import { makeTopLevelValue } from "../src/Proxy/TopLevelValue.ts"

describe("makeTopLevelValue", () => {
  const scan = (text: string, chunk: number, limit = 1000) => {
    const bytes = new TextEncoder().encode(text)
    const value = makeTopLevelValue("usage", limit)
    for (let at = 0; at < bytes.length; at += chunk) value.observe(bytes.subarray(at, at + chunk))
    const found = value.value()
    return found === null ? null : JSON.parse(new TextDecoder().decode(found))
  }

  it("finds the top-level member only, whatever the chunking", () => {
    const cases: ReadonlyArray<readonly [string, unknown]> = [
      [`{"output":[{"usage":{"x":1}}],"usage":{"input_tokens":5,"d":{"a":[1,"}"]}}}`, {
        input_tokens: 5,
        d: { a: [1, "}"] }
      }],
      [`{ "usage" : 7 , "z" : "}" }`, 7],
      [`{"a":"\\"usage\\":{}","b":{"usage":1}}`, null],
      [`{"us\\u0061ge":{"x":1}}`, null],
      [`["usage",{"usage":1}]`, null],
      [`{"usagex":{"a":1},"usag":2}`, null],
      [`{"usage":{"big":"${"x".repeat(2000)}"}}`, null]
    ]
    for (const chunk of [1, 3, 4096]) {
      for (const [text, expected] of cases) expect([text, scan(text, chunk)]).toEqual([text, expected])
    }
  })
})
