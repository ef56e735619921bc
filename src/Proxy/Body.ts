import type { HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import { readNodeBody } from "../Http/NodeBody.ts"
import { decodeBody } from "./Decode.ts"
import { BodyTooLarge, InvalidBody, UnsupportedEncoding } from "./Errors.ts"
import { hasDuplicateKey, isObject, modelOf, modelRule } from "./JsonObject.ts"

export interface RequestBody {
  readonly raw: Uint8Array
  readonly json: Readonly<Record<string, unknown>>
}

const encodingOf = (request: HttpServerRequest.HttpServerRequest) => {
  const value = (request.headers["content-encoding"] ?? "identity").trim().toLowerCase()
  return value === "" ? "identity" : value
}

const readLimited = (request: HttpServerRequest.HttpServerRequest, limit: number) =>
  readNodeBody(request, limit).pipe(
    Effect.mapError((failure) =>
      failure._tag === "TooLarge"
        ? new BodyTooLarge({ limit })
        : new InvalidBody({ message: "request body could not be read" })
    )
  )

// JSON is UTF-8 (RFC 8259 §8.1). A lossy decode would let the gateway read other characters than upstream does, so
// a body that is not UTF-8 is refused rather than guessed at.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

const parseObject = (bytes: Uint8Array) =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => utf8.decode(bytes),
      catch: () => new InvalidBody({ message: "request body is not valid UTF-8" })
    })
    const value = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: () => new InvalidBody({ message: "request body is not valid JSON" })
    })
    if (!isObject(value)) return yield* new InvalidBody({ message: "request body must be a JSON object" })
    if (hasDuplicateKey(text)) return yield* new InvalidBody({ message: "request body must not repeat a key" })
    return value
  })

// A Responses or compact request names its model (codex-protocol.md §3, §6.2); the key's allow-list judges it.
const checkModel = (body: Readonly<Record<string, unknown>>) =>
  modelOf(body) === undefined
    ? Effect.fail(new InvalidBody({ message: `request body's ${modelRule}` }))
    : Effect.succeed(body)

// POST /realtime/calls on the backend base carries JSON {sdp, session} (codex-protocol.md §8); nothing else is sent.
const checkRealtimeCall = (body: Readonly<Record<string, unknown>>) =>
  typeof body["sdp"] === "string" && body["sdp"] !== "" && isObject(body["session"])
    ? Effect.succeed(body)
    : Effect.fail(
      new InvalidBody({ message: "a realtime call is a JSON object with an \"sdp\" offer and a \"session\" object" })
    )

export const readRequestBody = (
  request: HttpServerRequest.HttpServerRequest,
  kind: "json" | "realtime-call" | "object",
  limit: number
) =>
  Effect.gen(function*() {
    const encoding = encodingOf(request)
    if (encoding !== "identity" && encoding !== "gzip" && encoding !== "zstd") {
      return yield* new UnsupportedEncoding({ encoding })
    }
    if (Number(request.headers["content-length"] ?? 0) > limit) return yield* new BodyTooLarge({ limit })
    const raw = yield* readLimited(request, limit)
    if (raw.length === 0) return yield* new InvalidBody({ message: "request body is empty" })
    const object = yield* parseObject(yield* decodeBody(raw, encoding, limit))
    const json = kind === "realtime-call"
      ? yield* checkRealtimeCall(object)
      : kind === "json"
      ? yield* checkModel(object)
      : object
    return { raw, json } satisfies RequestBody
  })
