import fc from "fast-check"
import { randomBytes } from "node:crypto"
import { allowedModel, forbiddenModel, maxBodyBytes } from "./BadInput.ts"
import { closePayload, type Frame, type SessionPlan } from "./BadInputWebSocket.ts"
import { codexHeaders, responsesBody } from "./Requests.ts"

// Websocket cases for the bad-input suite: hostile handshakes, and hostile frames after a good one.

export interface WsCase {
  readonly plan: SessionPlan
  readonly refusedBeforeUpstream: boolean
  readonly why: string
  // Sent as x-client-request-id, which the gateway passes on: upstream's upgrades are told apart by it.
  readonly caseId: string
  readonly [fc.toStringMethod]: () => string
}

const websocketPath = "/backend-api/codex/responses"
const text = (value: string) => Buffer.from(value, "utf8")
const create = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: "response.create", ...responsesBody("hi"), ...extra })
const createFrame = (payload: string | Uint8Array, label: string) => ({
  frame: { opcode: 0x1, payload: typeof payload === "string" ? text(payload) : payload },
  label
})

const withoutModel = Object.fromEntries(Object.entries(responsesBody("hi")).filter(([name]) => name !== "model"))

interface Labelled {
  readonly frame: Frame
  readonly label: string
}

// response.create frames whose top-level model is the forbidden one, in the shapes a prefix regex misreads.
const disguised = fc.constantFrom<Labelled>(
  createFrame(create({ model: forbiddenModel }), "forbidden model"),
  createFrame(JSON.stringify({ model: forbiddenModel, ...withoutModel, type: "response.create" }), "model first"),
  createFrame(` ${create({ model: forbiddenModel })}`, "leading space"),
  createFrame(
    create({ client_metadata: { model: allowedModel }, model: forbiddenModel }).replace(
      `"model":"${forbiddenModel}"`,
      `"model":"${allowedModel}","model":"${forbiddenModel}"`
    ),
    "duplicate model key"
  ),
  createFrame(
    JSON.stringify({ type: "response.create", pad: "x".repeat(5_000), ...responsesBody("hi"), model: forbiddenModel }),
    "model past 4096 bytes"
  ),
  createFrame(create({ model: forbiddenModel }).replace("response.create", "response.cre\\u0061te"), "escaped type"),
  createFrame(create({ model: [forbiddenModel] }), "model as an array")
)

const garbage = fc.uint8Array({ maxLength: 64 })

const protocolErrors = fc.oneof(
  fc.constantFrom<Labelled>(
    { frame: { opcode: 0x1, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }, label: "invalid UTF-8 text" },
    { frame: { opcode: 0x1, payload: text(create()), masked: false }, label: "unmasked" },
    { frame: { opcode: 0x0, payload: text("tail") }, label: "continuation with no start" },
    { frame: { opcode: 0x9, payload: text("ping"), fin: false }, label: "fragmented ping" },
    { frame: { opcode: 0x9, payload: randomBytes(126) }, label: "ping over 125 bytes" },
    { frame: { opcode: 0x8, payload: Buffer.from([0x03]) }, label: "one-byte close" },
    {
      frame: { opcode: 0x8, payload: Buffer.concat([closePayload(1000), Buffer.from([0xff])]) },
      label: "close reason not UTF-8"
    }
  ),
  fc.constantFrom(3, 4, 5, 6, 7, 11, 12, 13, 14, 15).chain((opcode) =>
    garbage.map((payload) => ({ frame: { opcode, payload }, label: `reserved opcode ${opcode}` }))
  ),
  fc.integer({ min: 1, max: 7 }).map((rsv) => ({
    frame: { opcode: 0x1, payload: text(create()), rsv },
    label: `rsv ${rsv}`
  })),
  fc.constantFrom(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535).map((code) => ({
    frame: { opcode: 0x8, payload: closePayload(code) },
    label: `close code ${code}`
  }))
)

const refused = fc.oneof(
  fc.string({ maxLength: 40 }).filter((value) => !value.trimStart().startsWith("{"))
    .map((value) => createFrame(value, "not JSON")),
  fc.jsonValue({ maxDepth: 2 }).filter((value) => typeof value !== "object" || value === null || Array.isArray(value))
    .map((value) => createFrame(JSON.stringify(value), "JSON, not an object")),
  fc.constant<Labelled>({ frame: { opcode: 0x2, payload: text(create()) }, label: "binary response.create" }),
  fc.constant<Labelled>({ frame: { opcode: 0x2, payload: randomBytes(32) }, label: "binary garbage" }),
  fc.constant(createFrame(create({ pad: "x".repeat(maxBodyBytes + 1024) }), "frame over the body limit")),
  fc.tuple(garbage, garbage).map(([first, second]) => ({
    frame: { opcode: 0x1, payload: Buffer.concat([text("{"), first]), fin: false },
    label: `fragment then a new text frame (${second.length} bytes)`
  }))
)

const oddShapes = fc.oneof(
  fc.constant(createFrame(create(), "Codex's response.create")),
  fc.record({ input: fc.jsonValue({ maxDepth: 2 }), stream: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] })
    .map((fields) => createFrame(create(fields), `odd fields ${JSON.stringify(fields).slice(0, 60)}`)),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
    .map((value) =>
      createFrame(JSON.stringify({ type: "response.create", ...value, model: allowedModel }), "random create")
    )
)

const handshake = (key: string, caseId: string): ReadonlyArray<readonly [string, string]> => [
  ...Object.entries({ ...codexHeaders(key), "x-client-request-id": caseId }),
  ["openai-beta", "responses_websockets=2026-02-06"],
  ["upgrade", "websocket"],
  ["connection", "Upgrade"],
  ["sec-websocket-key", randomBytes(16).toString("base64")],
  ["sec-websocket-version", "13"]
]

const describeFrames = (plan: SessionPlan, labels: ReadonlyArray<string>, note: string) =>
  `${note} GET ${plan.path}${plan.hangUp === true ? " (hung up)" : ""} frames: [${labels.join(" | ")}]`

const anyFrame = fc.oneof(disguised, protocolErrors, refused, oddShapes)

export const frameCases = (key: string): fc.Arbitrary<WsCase> =>
  fc.tuple(fc.uuid(), fc.array(anyFrame, { minLength: 1, maxLength: 3 })).map(([caseId, frames]) => {
    const plan: SessionPlan = {
      path: websocketPath,
      headers: handshake(key, caseId),
      frames: frames.map(({ frame }) => frame)
    }
    return {
      plan,
      caseId,
      refusedBeforeUpstream: false,
      why: "",
      [fc.toStringMethod]: () => describeFrames(plan, frames.map(({ label }) => label), "good handshake,")
    }
  })

type Headers = ReadonlyArray<readonly [string, string]>

const replace = (name: string, value: string | undefined) => (headers: Headers): Headers => [
  ...headers.filter(([header]) => header !== name),
  ...(value === undefined ? [] : [[name, value] as const])
]

const handshakeFaults = (key: string) =>
  fc.constantFrom<readonly [string, (headers: Headers) => Headers]>(
    ["no Sec-WebSocket-Key", replace("sec-websocket-key", undefined)],
    ["Sec-WebSocket-Key not 16 bytes", replace("sec-websocket-key", "short")],
    ["version 8", replace("sec-websocket-version", "8")],
    ["no key", replace("authorization", undefined)],
    ["wrong key", replace("authorization", `Bearer ${key}x`)]
  )

export const handshakeCases = (key: string): fc.Arbitrary<WsCase> =>
  fc.record({
    path: fc.constantFrom(
      websocketPath,
      websocketPath,
      "/backend-api/codex/models",
      "/backend-api/codex/RESPONSES",
      `${websocketPath};x=y`,
      `${websocketPath}/compact`,
      "/backend-api/codex/realtime/calls",
      "/healthz"
    ),
    fault: fc.option(handshakeFaults(key), { nil: undefined }),
    hangUp: fc.boolean(),
    caseId: fc.uuid()
  }).map(({ caseId, fault, hangUp, path }) => {
    const plan: SessionPlan = {
      path,
      headers: fault === undefined ? handshake(key, caseId) : fault[1](handshake(key, caseId)),
      frames: [{ opcode: 0x1, payload: text(create()) }],
      hangUp
    }
    const reasons = [
      path === websocketPath ? undefined : `${path} has no websocket`,
      fault === undefined ? undefined : `the handshake is bad (${fault[0]})`
    ].filter((reason) => reason !== undefined)
    return {
      plan,
      caseId,
      refusedBeforeUpstream: reasons.length > 0,
      why: reasons.join(", "),
      [fc.toStringMethod]: () => describeFrames(plan, ["Codex's response.create"], fault?.[0] ?? "good handshake,")
    }
  })
