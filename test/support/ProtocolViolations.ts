import { closePayload, frame, opcodes } from "./RawWebSocket.ts"

// Frames RFC 6455 forbids a client to send, and the close code ws 8 answers each with.
export const protocolViolations: ReadonlyArray<readonly [string, Buffer, number]> = [
  ["invalid UTF-8 in a text frame", frame(opcodes.text, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 1007],
  ["a reserved data opcode", frame(0x3, "{}"), 1002],
  ["a reserved control opcode", frame(0xb, ""), 1002],
  ["an unmasked client frame", frame(opcodes.text, "{}", { masked: false }), 1002],
  ["a close frame with 1005", frame(opcodes.close, closePayload(1005)), 1002],
  ["a close frame with 1006", frame(opcodes.close, closePayload(1006)), 1002],
  ["a close frame with 999", frame(opcodes.close, closePayload(999)), 1002],
  ["a close frame with a one-byte payload", frame(opcodes.close, Buffer.from([0x03])), 1002],
  ["a continuation with no start", frame(opcodes.continuation, "{}"), 1002],
  ["RSV1 set without an extension", frame(opcodes.text, "{}", { rsv: 0x40 }), 1002],
  ["RSV3 set", frame(opcodes.text, "{}", { rsv: 0x10 }), 1002],
  ["a fragmented ping", frame(opcodes.ping, "", { fin: false }), 1002],
  ["a control frame over 125 bytes", frame(opcodes.ping, "x".repeat(126)), 1002]
]
