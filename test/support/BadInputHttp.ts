import fc from "fast-check"
import { bodies, type Body } from "./BadInputBodies.ts"
import type { RawRequest } from "./RawHttp.ts"
import { codexHeaders } from "./Requests.ts"

// Whole HTTP requests for the bad-input suite: method, path, credentials, headers, body and framing, and whether the
// gateway must answer it without contacting upstream.

export interface HttpCase {
  readonly request: RawRequest
  readonly refusedBeforeUpstream: boolean
  readonly why: string
  readonly [fc.toStringMethod]: () => string
}

const prefix = "/backend-api/codex"
const routes: Record<string, string> = {
  [`${prefix}/responses`]: "POST",
  [`${prefix}/responses/compact`]: "POST",
  [`${prefix}/models`]: "GET",
  [`${prefix}/realtime/calls`]: "POST"
}
const jsonRoutes = new Set([`${prefix}/responses`, `${prefix}/responses/compact`, `${prefix}/realtime/calls`])

const segment = fc.stringMatching(/^[A-Za-z0-9._~%-]{1,12}$/)

const flipCase = (path: string, seed: number) =>
  path.replace(/[a-z]/g, (letter, index: number) => ((index * 7 + seed) % 3 === 0 ? letter.toUpperCase() : letter))

const variants = (route: string): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: fc.constant(route), weight: 6 },
    fc.constant(route.toUpperCase()),
    fc.integer({ min: 0, max: 2 }).map((seed) => flipCase(route, seed)).filter((path) => path !== route),
    fc.constant(`${route};x=y`),
    fc.constant(`${route}/`),
    fc.constant(route.replace(prefix, `${prefix}/`)),
    fc.constant(route.replace(/\/([a-z])/, (_, letter: string) => `/%${letter.charCodeAt(0).toString(16)}`)),
    fc.constant(route.replace(prefix, `${prefix}/x/..`)),
    fc.constant(route.replace(prefix, `${prefix}%2F`)),
    fc.constant(`${route}%00`)
  )

const paths = fc.oneof(
  { arbitrary: fc.constantFrom(...Object.keys(routes)).chain(variants), weight: 8 },
  segment.map((name) => `${prefix}/${name}`),
  fc.array(segment, { minLength: 1, maxLength: 3 }).map((names) => `${prefix}/responses/${names.join("/")}`),
  fc.constant(`${prefix}/${"a".repeat(8_000)}`),
  fc.constantFrom("/", "/healthz", "/readyz", "/metrics", "/admin", "/backend-api", prefix, "//healthz", "/HEALTHZ")
)

const queries = fc.oneof(
  { arbitrary: fc.constant(""), weight: 4 },
  fc.constantFrom("?client_version=0.169.0", "?client_version=../../x", "?a=1&a=2", "?%zz", `?q=${"x".repeat(4_000)}`),
  fc.dictionary(segment, segment, { maxKeys: 3 }).map((query) => `?${new URLSearchParams(query).toString()}`)
)

const methods = fc.oneof(
  { arbitrary: fc.constantFrom("GET", "POST"), weight: 6 },
  fc.constantFrom("PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "CONNECT", "get", "FOO", "M-SEARCH")
)

// Header values as Node's parser sees them: printable ASCII, tabs, obs-text, and now and then a control character.
const headerValue = fc.oneof(
  { arbitrary: fc.stringMatching(/^[\x20-\x7e\t]{0,40}$/), weight: 4 },
  fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)), maxLength: 20 }),
  fc.integer({ min: 1, max: 31 }).filter((code) => code !== 9 && code !== 10 && code !== 13).map((code) =>
    `a${String.fromCharCode(code)}b`
  ),
  fc.constantFrom("x".repeat(8_000), "x".repeat(20_000))
)

interface Credentials {
  readonly headers: ReadonlyArray<readonly [string, string]>
  // false: the request must be refused (401) before anything else.
  readonly valid: boolean | undefined
}

const credentials = (key: string, operatorToken: string): fc.Arbitrary<Credentials> => {
  const flipped = `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`
  return fc.oneof(
    { arbitrary: fc.constant({ headers: [["authorization", `Bearer ${key}`]], valid: true }), weight: 8 },
    fc.constantFrom<Credentials>(
      { headers: [], valid: false },
      { headers: [["authorization", "Bearer"]], valid: false },
      { headers: [["authorization", `Bearer ${flipped}`]], valid: false },
      { headers: [["authorization", `Bearer ${key}x`]], valid: false },
      { headers: [["authorization", `Bearer ${operatorToken}`]], valid: false },
      { headers: [["authorization", `Basic ${Buffer.from(`x:${key}`).toString("base64")}`]], valid: false },
      { headers: [["authorization", `Bearer ${key}, Bearer ${flipped}`]], valid: false },
      { headers: [["authorization", `Bearer ${"x".repeat(10_000)}`]], valid: false },
      { headers: [["authorization", `Bearer ${key}`], ["authorization", `Bearer ${flipped}`]], valid: undefined },
      { headers: [["authorization", `Bearer ${flipped}`], ["authorization", `Bearer ${key}`]], valid: undefined },
      { headers: [["authorization", `bearer  ${key} `]], valid: undefined }
    )
  )
}

const extraHeaders = fc.array(
  fc.tuple(
    fc.constantFrom(
      "session-id",
      "thread-id",
      "x-codex-turn-state",
      "chatgpt-account-id",
      "x-openai-internal-x",
      "x-forwarded-proto",
      "openai-beta",
      "accept",
      "accept-encoding",
      "content-type",
      "upgrade",
      "expect"
    ),
    headerValue
  ),
  { maxLength: 3 }
)

const codexDefaults = Object.entries(codexHeaders("")).filter(([name]) => name !== "authorization")

// Codex's own headers are summed up in one word; everything else is shown, long values cut.
const describe = (request: RawRequest, label: string) => {
  const own = request.headers.filter(([name, value]) => !codexDefaults.some(([n, v]) => n === name && v === value))
  const headers = own.map(([name, value]) =>
    `${name}: ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…(${value.length})` : value)}`
  )
  if (own.length < request.headers.length) headers.push("+ Codex's headers")
  return `${request.method} ${request.path.length > 120 ? `${request.path.slice(0, 120)}…` : request.path} ` +
    `[${headers.join(", ")}] body: ${label} (${request.body?.length ?? 0} bytes, ${request.framing ?? "length"})`
}

export type Focus = "paths" | "bodies" | "headers"

const exactRoute = fc.constantFrom(...Object.entries(routes))
const codexBody = bodies.filter((body) => body.label === "codex body")

// Each focus varies one part of the request and keeps the others as Codex sends them, so one kind of failure does
// not hide the others.
interface Parts {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly credentials: Credentials
  readonly codex: boolean
  readonly extra: ReadonlyArray<readonly [string, string]>
  readonly body: Body
  readonly framing: Framing
}

const parts = (focus: Focus, key: string, operatorToken: string): fc.Arbitrary<Parts> => {
  const codex = {
    query: fc.constant<string>(""),
    credentials: fc.constant<Credentials>({ headers: [["authorization", `Bearer ${key}`]], valid: true }),
    codex: fc.constant(true),
    extra: fc.constant<ReadonlyArray<readonly [string, string]>>([]),
    body: codexBody,
    framing: fc.constant<Framing>("length")
  }
  if (focus === "paths") return fc.record({ ...codex, method: methods, path: paths, query: queries })
  return exactRoute.chain(([path, method]): fc.Arbitrary<Parts> => {
    const route = { ...codex, method: fc.constant(method), path: fc.constant(path), codex: fc.boolean() }
    return focus === "bodies"
      ? fc.record({ ...route, body: bodies, framing: fc.constantFrom<Framing>("length", "chunked", "bad-chunk") })
      : fc.record({ ...route, query: queries, credentials: credentials(key, operatorToken), extra: extraHeaders })
  })
}

type Framing = "length" | "chunked" | "bad-chunk"

export const httpCases = (focus: Focus, key: string, operatorToken: string): fc.Arbitrary<HttpCase> =>
  parts(focus, key, operatorToken).map(({ body, codex, credentials, extra, framing, method, path, query }) => {
    const defaults = Object.entries(codexHeaders(key)).filter(([name]) => name !== "authorization")
    const headers = [
      ...credentials.headers,
      ...(codex ? defaults : [["content-type", "application/json"] as const]),
      ...(body.encoding === undefined ? [] : [["content-encoding", body.encoding] as const]),
      ...extra
    ]
    const withBody = method !== "GET" && method !== "HEAD"
    const sent = withBody ? body.bytes : new Uint8Array()
    const request: RawRequest = { method, path: `${path}${query}`, headers, body: sent, framing }
    const reasons = [
      routes[path] === undefined ? `${path.slice(0, 80)} is not a route` : undefined,
      routes[path] !== undefined && routes[path] !== method ? `${method} is not the route's method` : undefined,
      credentials.valid === false ? "the credentials are invalid" : undefined,
      withBody && jsonRoutes.has(path) && body.malformed ? `the body is malformed (${body.label})` : undefined,
      framing === "bad-chunk" && withBody && body.bytes.length > 0 ? "the chunked framing is broken" : undefined
    ].filter((reason) => reason !== undefined)
    return {
      request,
      refusedBeforeUpstream: reasons.length > 0,
      why: reasons.join(", "),
      [fc.toStringMethod]: () => describe(request, body.label)
    }
  })
