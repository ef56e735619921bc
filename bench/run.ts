import { Headers } from "@effect/platform"
import { Redacted } from "effect"
import { accountHeaders, forwardRequestHeaders } from "../src/Proxy/Headers.ts"
import { codexHeaders, responsesBody } from "../test/support/Requests.ts"
import { chatRoute, codexRoute } from "./answers.ts"
import { ensureBuild, type FakeInfo, startGateway, stopGateway } from "./gateway.ts"
import { type Call, type Level, type LevelResult, measure, type Target } from "./load.ts"
import { runBench, start, stop } from "./procs.ts"
import { summariseProfiles } from "./profile.ts"
import { derived, record, section, table } from "./report.ts"
import { webSocketBench } from "./ws.ts"

// npm run bench — loopback SSE load against direct (the fake backend), pipe (bench/pipe-proxy.ts) and the gateway, on
// Codex's route and, as gateway-v1, on /v1/chat/completions with stream: true (one gateway process serves both, level
// by level). BENCH_TARGETS=direct,pipe,gateway,gateway-v1 picks targets; BENCH_QUICK=1 runs small counts;
// BENCH_PROFILE=1 runs the gateway under --cpu-prof and prints its top functions (of both routes, unless only one is
// picked). Quick and profiled runs are not recorded in BENCHMARKS.md.
// BENCH_COUNT_SQL=1 counts the gateway's SQL statements per request (bench/pg-counter.ts); BENCH_SQL_TEXTS=1 with it
// lists them. BENCH_WS=1 runs the websocket benchmark (bench/ws.ts) instead, against direct and gateway.
const webSocket = process.env["BENCH_WS"] === "1"
const quick = process.env["BENCH_QUICK"] === "1"
const profile = process.env["BENCH_PROFILE"] === "1"
const targets = (process.env["BENCH_TARGETS"] ?? "direct,pipe,gateway,gateway-v1").split(",")
  .map((name) => name.trim())
const scale = quick ? 0.1 : 1
const level = (label: string, concurrency: number, requests: number): Level => ({
  label,
  concurrency,
  requests: Math.round(requests * scale)
})
const warmUp = level("warm-up", 8, 500)
const levels = [level("serial", 1, 300), level("c=8", 8, 2000), level("c=64", 64, 4000)]
const maxConcurrency = Math.max(...levels.map((l) => l.concurrency))

// Worker i is Codex session i: its own thread id and prompt_cache_key, the same for every target. On /v1 the thread
// is the body's prompt_cache_key alone, and the headers are those of an OpenAI SDK.
const sessions = Array.from({ length: maxConcurrency }, (_, index) => {
  const thread = `01a216ab-0000-7000-8000-${index.toString(16).padStart(12, "0")}`
  const chat = {
    model: "gpt-5.5",
    messages: [{ role: "user", content: "hello" }],
    stream: true,
    prompt_cache_key: thread
  }
  return {
    thread,
    codex: JSON.stringify(responsesBody("hello", { prompt_cache_key: thread })),
    chat: JSON.stringify(chat)
  }
})
const calls = (headers: (thread: string) => Record<string, string>, body: "codex" | "chat" = "codex") =>
  sessions.map((session): Call => ({ headers: headers(session.thread), body: session[body] }))
const chatHeaders = (key: string) => ({
  authorization: `Bearer ${key}`,
  "content-type": "application/json",
  accept: "text/event-stream"
})
const isGateway = (name: string): name is "gateway" | "gateway-v1" => name === "gateway" || name === "gateway-v1"
const gatewayNames = targets.filter(isGateway)

const main = async () => {
  if (gatewayNames.length > 0) await ensureBuild()
  const fakeServer = await start(["--import", "tsx", "bench/fake-server.ts"], {}, /^(\{.*\})$/m)
  const fake = JSON.parse(fakeServer.match[1] ?? "") as FakeInfo
  const account = fake.auth[0]?.tokens
  if (account === undefined) throw new Error("the fake backend has no account")
  if (webSocket) return webSocketBench(fake, fakeServer.pid, targets, quick, profile)
  const upstreamOrigin = new URL(fake.url).origin
  const results: Array<LevelResult> = []
  const run = async (...measured: ReadonlyArray<Target>) => {
    for (const target of measured) process.stderr.write(`${target.name}: ${target.origin} (pid ${target.pid})\n`)
    results.push(...await measure(measured, fakeServer.pid, warmUp, levels))
  }
  let profileSummary = ""
  for (const name of targets) {
    if (name === "direct") {
      const asGateway = (thread: string) => ({
        ...forwardRequestHeaders(Headers.fromInput(codexHeaders("unused", thread))),
        ...accountHeaders({
          accessToken: Redacted.make(account.access_token),
          chatgptAccountId: account.account_id,
          fedramp: false
        })
      })
      await run({ name, origin: upstreamOrigin, route: codexRoute, pid: fakeServer.pid, calls: calls(asGateway) })
    } else if (name === "pipe") {
      const pipe = await start(["--import", "tsx", "bench/pipe-proxy.ts"], {
        PIPE_UPSTREAM_ORIGIN: upstreamOrigin,
        PIPE_ACCESS_TOKEN: account.access_token,
        PIPE_ACCOUNT_ID: account.account_id
      }, /pipe listening on (http:\/\/127\.0\.0\.1:\d+)/)
      await run({
        name,
        origin: pipe.match[1] ?? "",
        route: codexRoute,
        pid: pipe.pid,
        calls: calls((thread) => codexHeaders("cpk_pipe_client", thread))
      })
      await stop(pipe.child)
    } else if (isGateway(name)) {
      // Both routes are measured together on one gateway process, where the first of them is named.
      if (name !== gatewayNames[0]) continue
      const gateway = await startGateway(fake, profile)
      const { key, statements } = gateway
      const routes = {
        gateway: { route: codexRoute, calls: calls((thread) => codexHeaders(key, thread)) },
        "gateway-v1": { route: chatRoute, calls: calls(() => chatHeaders(key), "chat") }
      }
      await run(...gatewayNames.map((gatewayName): Target => ({
        name: gatewayName,
        origin: gateway.origin,
        pid: gateway.server.pid,
        ...routes[gatewayName],
        ...(statements === undefined ? {} : { statements })
      })))
      await stopGateway(gateway)
      if (gateway.profileDir !== null) profileSummary = summariseProfiles(gateway.profileDir)
    } else {
      throw new Error(`unknown target ${name} (BENCH_TARGETS takes direct, pipe, gateway, gateway-v1)`)
    }
  }
  const flags = [
    "BENCH_TARGETS",
    "BENCH_QUICK",
    "BENCH_PROFILE",
    "BENCH_COUNT_SQL",
    "BENCH_LOG_LEVEL",
    "BENCH_DATABASE_URL"
  ]
    .filter((flag) => process.env[flag] !== undefined)
    .map((flag) => `${flag}=${process.env[flag]} `)
    .join("")
  const text = section(`${flags}npm run bench`, `${table(results)}\n\n${derived(results, "serial", "c=8")}`)
  process.stdout.write(text)
  if (profileSummary !== "") process.stdout.write(`\n${profileSummary}\n`)
  if (!quick && !profile) {
    record(text)
    process.stdout.write("\nrecorded in BENCHMARKS.md\n")
  }
}

await runBench("bench", main)
