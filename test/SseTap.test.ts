import { describe, expect, it } from "@effect/vitest"
import { emptyFacts, makeSseTap, sseLineLimit } from "../src/Proxy/SseTap.ts"

const encoder = new TextEncoder()
const completed = `event: response.completed\ndata: ${
  JSON.stringify({
    type: "response.completed",
    response: { id: "resp_1", usage: { input_tokens: 3, output_tokens: 5, total_tokens: 8 } }
  })
}\n\n`

describe("SSE tap", () => {
  it("reads events split across chunks at any byte, CRLF endings included", () => {
    const facts = emptyFacts()
    const tap = makeSseTap(facts)
    const bytes = encoder.encode(`data: {"type":"response.created"}\r\n\r\n${completed.replaceAll("\n", "\r\n")}`)
    for (let at = 0; at < bytes.length; at += 7) tap(bytes.subarray(at, at + 7))
    expect(facts.completed).toBe(true)
    expect(facts.usage).toMatchObject({ inputTokens: 3, outputTokens: 5, totalTokens: 8 })
  })

  it("a 20 MB line in small chunks is held only up to the line bound, and the events after it are still read", () => {
    const facts = emptyFacts()
    const tap = makeSseTap(facts)
    const piece = encoder.encode("x".repeat(16 * 1024))
    tap(encoder.encode(`data: {"type":"response.output_text.delta","delta":"`))
    let held = 0
    for (let sent = 0; sent < 20 * 1024 * 1024; sent += piece.length) {
      tap(piece)
      held = Math.max(held, tap.pending())
    }
    expect(held).toBeLessThanOrEqual(sseLineLimit)
    expect(tap.pending()).toBe(0)
    tap(encoder.encode("\"}\n\n"))
    tap(encoder.encode(completed))
    expect(facts.completed).toBe(true)
    expect(tap.pending()).toBe(0)
  })

  it("an event past the line bound is dropped unparsed, not half-read", () => {
    const facts = emptyFacts()
    const tap = makeSseTap(facts, 1024)
    tap(encoder.encode(`data: {"type":"response.failed","response":{"error":{"code":"x${"y".repeat(2048)}"}}}\n\n`))
    expect(facts.errorCode).toBeNull()
    tap(encoder.encode(completed))
    expect(facts.completed).toBe(true)
  })
})
