import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { gzipSync } from "node:zlib"
import { PoolKeys } from "../src/PoolKeys.ts"
import { backends } from "./support/Databases.ts"
import { Fake, gatewayLayer, gatewayUrl, setupPool } from "./support/Gateway.ts"
import { codexHeaders, responsesBody, send } from "./support/Requests.ts"

const limit = 1024 * 1024
const zstd = (input: string | Uint8Array, ...args: Array<string>) =>
  spawnSync("zstd", ["-c", "-q", ...args], { input }).stdout
const magic = [0x28, 0xb5, 0x2f, 0xfd]
// An RLE block regenerating 128 KiB from one byte, not the last: 4 bytes.
const rleBlock = [0x02, 0x00, 0x10, 0x61]
// 50 bytes: a frame naming a 1.875 GiB window (exponent 20, mantissa 7), no content size, four RLE blocks, then a last
// empty raw block. A decoder that believes the header allocates the window and shifts it once per block.
const windowBomb = new Uint8Array([
  ...magic,
  0x00,
  0xa7,
  ...rleBlock,
  ...rleBlock,
  ...rleBlock,
  ...rleBlock,
  0x01,
  0x00,
  0x00
])
// A single-segment frame declaring 2^40 bytes of content.
const contentBomb = new Uint8Array([...magic, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 0x01, 0x00, 0x00])
// The frame header's reserved bit set.
const reservedBit = new Uint8Array([...magic, 0x08, 0x50, 0x01, 0x00, 0x00])

const keyWith = (slug: string, limits: NonNullable<Parameters<PoolKeys["create"]>[0]["limits"]>) =>
  Effect.flatMap(PoolKeys, (keys) => keys.create({ poolSlug: slug, limits })).pipe(
    Effect.map((created) => created.token)
  )

const post = (key: string, body: Uint8Array | string, encoding?: string) =>
  Effect.flatMap(gatewayUrl, (url) =>
    send(`${url}/backend-api/codex/responses`, {
      method: "POST",
      headers: {
        ...codexHeaders(key, `thread-${Math.random()}`),
        ...(encoding === undefined ? {} : { "content-encoding": encoding })
      },
      body
    }))

const code = (text: string) => JSON.parse(text).error.code

describe.each(backends)("hostile request bodies on %s", (backend) => {
  layer(gatewayLayer(backend, { CODEX_POOLER_MAX_BODY_BYTES: String(limit) }), {
    excludeTestServices: true,
    timeout: 60_000
  })((it) => {
    it.effect("a zstd frame naming a huge window or content size is refused from its header, /healthz served meanwhile", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const url = yield* gatewayUrl
        fake.reset()
        const [bomb, health] = yield* Effect.all([
          post(pool.key, windowBomb, "zstd"),
          Effect.flatMap(Effect.sleep("5 millis"), () => send(`${url}/healthz`))
        ], { concurrency: "unbounded" })
        expect([bomb.status, code(bomb.text)]).toEqual([413, "request_too_large"])
        expect(health.status).toBe(200)
        const declared = yield* post(pool.key, contentBomb, "zstd")
        expect([declared.status, code(declared.text)]).toEqual([413, "request_too_large"])
        const malformed = yield* post(pool.key, reservedBit, "zstd")
        expect([malformed.status, code(malformed.text)]).toEqual([400, "invalid_json"])
        expect(fake.requests).toHaveLength(0)
      }))

    it.effect("a gzip or zstd body expanding past the body limit is refused with 413", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        const json = JSON.stringify(responsesBody("z".repeat(3 * limit)))
        const gzip = yield* post(pool.key, gzipSync(json), "gzip")
        expect([gzip.status, code(gzip.text)]).toEqual([413, "request_too_large"])
        for (const body of [zstd(json), zstd(json, `--stream-size=${json.length}`)]) {
          const answer = yield* post(pool.key, body, "zstd")
          expect([answer.status, code(answer.text)]).toEqual([413, "request_too_large"])
        }
        expect(fake.requests).toHaveLength(0)
      }))

    it.effect("a key over its rpm or concurrency gets 429 before its body is decoded", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const perMinute = yield* keyWith(pool.slug, { requestsPerMinute: 1 })
        expect((yield* post(perMinute, JSON.stringify(responsesBody()))).status).toBe(200)
        for (const [body, encoding] of [["not zstd", "zstd"], ["not gzip", "gzip"], [windowBomb, "zstd"]] as const) {
          const refused = yield* post(perMinute, body, encoding)
          expect([refused.status, code(refused.text)], encoding).toEqual([429, "key_requests_per_minute"])
        }
        const concurrent = yield* keyWith(pool.slug, { maxConcurrent: 1 })
        fake.fault(pool.accounts[0]!.fake.accountId, { kind: "stall", ms: 1_000 })
        const url = yield* gatewayUrl
        const open = fetch(`${url}/backend-api/codex/responses`, {
          method: "POST",
          headers: codexHeaders(concurrent, "thread-open"),
          body: JSON.stringify(responsesBody())
        }).then((response) => response.text())
        yield* Effect.promise(() =>
          fake.waitFor(() => fake.requests.some((request) => request.fault === "stall"), 5_000)
        )
        const refused = yield* post(concurrent, "not zstd", "zstd")
        expect([refused.status, code(refused.text)]).toEqual([429, "key_concurrent_streams"])
        expect(yield* Effect.promise(() => open)).toContain("response.completed")
      }))

    it.effect("valid zstd bodies decode: with or without content size, several frames, a skippable frame", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        const json = JSON.stringify(responsesBody("compressed hello ".repeat(2000)))
        const skippable = Buffer.alloc(12)
        skippable.writeUInt32LE(0x184d2a53, 0)
        skippable.writeUInt32LE(4, 4)
        const bodies = [
          zstd(json),
          zstd(json, `--stream-size=${json.length}`),
          zstd(json, "--no-content-size", "-19"),
          Buffer.concat([zstd(json.slice(0, 100)), zstd(json.slice(100), "--no-content-size")]),
          Buffer.concat([skippable, zstd(json)])
        ]
        for (const body of bodies) {
          const answer = yield* post(pool.key, body, "zstd")
          expect(answer.status).toBe(200)
          expect(answer.text).toContain("response.completed")
        }
        const gzip = yield* post(pool.key, gzipSync(json), "gzip")
        expect(gzip.status).toBe(200)
        expect(fake.requests.map((request) => request.body)).toEqual(Array(6).fill(JSON.parse(json)))
      }))

    it.effect("the model the allow-list judges is the one upstream reads: a body without a string model, or with a key twice, is refused", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        const key = yield* keyWith(pool.slug, { allowedModels: ["gpt-5.5"] })
        const url = yield* gatewayUrl
        fake.reset()
        const body = JSON.stringify(responsesBody()).slice(1)
        const bodies = [
          `{"model":["gpt-forbidden"],${body.replace(/"model":"gpt-5.5",/, "")}`,
          `{"model":null,${body.replace(/"model":"gpt-5.5",/, "")}`,
          `{"model":"gpt-forbidden",${body}`,
          `{"mod\\u0065l":"gpt-forbidden",${body}`
        ]
        for (const path of ["/responses", "/responses/compact"]) {
          for (const sent of bodies) {
            const answer = yield* send(`${url}/backend-api/codex${path}`, {
              method: "POST",
              headers: codexHeaders(key, "thread-model"),
              body: sent
            })
            expect([answer.status, code(answer.text)], `${path} ${sent.slice(0, 40)}`).toEqual([400, "invalid_json"])
          }
        }
        expect(fake.requests).toHaveLength(0)
      }))

    it.effect("a JSON body that is not UTF-8 is refused, however it is encoded, and never reaches upstream", () =>
      Effect.gen(function*() {
        const fake = yield* Fake
        const pool = yield* setupPool(1)
        fake.reset()
        // A lone 0xff where a string's character should be: a lossy decoder would read U+FFFD and pass it on.
        const json = Buffer.concat([
          Buffer.from(JSON.stringify(responsesBody()).slice(0, -1) + `,"x":"`),
          Buffer.from([0xff]),
          Buffer.from(`"}`)
        ])
        for (
          const [body, encoding] of [[json, undefined], [gzipSync(json), "gzip"], [
            zstd(json, "--no-content-size"),
            "zstd"
          ]] as const
        ) {
          const answer = yield* post(pool.key, body, encoding)
          expect([answer.status, JSON.parse(answer.text).error.message], encoding).toEqual([
            400,
            "request body is not valid UTF-8"
          ])
        }
        expect(fake.requests).toHaveLength(0)
      }))
  })
})
