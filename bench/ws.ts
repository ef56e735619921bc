import { Headers } from "@effect/platform"
import { Redacted } from "effect"
import { execFileSync } from "node:child_process"
import { performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import WebSocket from "ws"
import { accountHeaders, forwardRequestHeaders } from "../src/Proxy/Headers.ts"
import { codexHeaders } from "../test/support/Requests.ts"
import { type FakeInfo, startGateway, stopGateway } from "./gateway.ts"
import { cpuMs, root, rssMb, start, stop } from "./procs.ts"
import { summariseProfiles } from "./profile.ts"
import { record, section } from "./report.ts"
import {
  beta,
  type Client,
  closeAll,
  create,
  fail,
  newErrors,
  openMany,
  percentile,
  socketFds,
  tally,
  type Target
} from "./ws-client.ts"
import { collectGarbage } from "./ws-heap.ts"
import { type CloseLine, type FramesRow, type OpenRow, wsReport } from "./ws-report.ts"

// BENCH_WS=1 npm run bench — Codex's websocket transport against direct (the fake backend) and the gateway:
// many sockets held open (memory per socket), then frames/s over 8 and 64 busy sockets.
const run = async (target: Target, fakePid: number, scale: number) => {
  const opens: Array<OpenRow> = []
  const frames: Array<FramesRow> = []
  const fake = target.pid === fakePid ? null : fakePid
  const upgraded = tally.upgraded
  const warm = newErrors()
  const warmClients = await openMany(target, 100_000, 16, warm)
  await Promise.all(warmClients.map(async (client, index) => {
    for (let round = 0; round < 5; round++) {
      await client.respond(create(100_000 + index, true)).catch((error) => fail(warm, error))
    }
  }))
  const line: CloseLine = {
    target: target.name,
    upgraded: 0,
    closed: 0,
    clean: 0,
    fakeSocketsBefore: 0,
    fakeSocketsAfter: 0
  }
  await closeAll(warmClients, line)
  if (warm.count > 0) process.stderr.write(`  ${target.name} warm-up: ${warm.count} errors, e.g. ${warm.sample}\n`)
  await sleep(1_000)
  line.fakeSocketsBefore = socketFds(fakePid)

  // Many sockets: each level opens more sockets on top of the previous ones; memory is measured from one baseline.
  const open: Array<Client> = []
  const heapBefore = await collectGarbage(target.pid)
  if (fake !== null) await collectGarbage(fake)
  const rssBefore = rssMb(target.pid)
  const fakeBefore = fake === null ? null : rssMb(fake)
  for (const total of [200, 1000].map((n) => Math.round(n * scale))) {
    const errors = newErrors()
    const started = performance.now()
    const step = await openMany(target, open.length, total - open.length, errors)
    open.push(...step)
    const seconds = (performance.now() - started) / 1000
    await sleep(2_000)
    const cpu0 = cpuMs(target.pid)
    await sleep(4_000)
    const idleCpuPct = (cpuMs(target.pid) - cpu0) / 40
    const heapAfter = await collectGarbage(target.pid)
    if (fake !== null) await collectGarbage(fake)
    opens.push({
      target: target.name,
      attempted: total,
      open: open.length,
      step: step.length,
      errors,
      seconds,
      heapBefore,
      heapAfter,
      rssBefore,
      rssAfter: rssMb(target.pid),
      fakeBefore,
      fakeAfter: fake === null ? null : rssMb(fake),
      idleCpuPct
    })
    process.stderr.write(
      `  ${target.name} ${open.length}/${total} sockets open in ${seconds.toFixed(1)} s, ${errors.count} errors\n`
    )
    if (errors.count > 0) break
  }
  await closeAll(open, line)

  // Frames/s: K busy sockets, each sending response.create one after another.
  for (const [sockets, perSocket] of [[8, 150], [64, 25]] as const) {
    const errors = newErrors()
    const clients = await openMany(target, 10_000 + sockets * 100, sockets, errors)
    await Promise.all(
      clients.map((client, index) =>
        client.respond(create(10_000 + sockets * 100 + index, true)).catch((error) => fail(errors, error))
      )
    )
    const times: Array<number> = []
    const rounds = Math.max(1, Math.round(perSocket * scale))
    const frames0 = clients.reduce((sum, client) => sum + client.frames(), 0)
    const cpu0 = cpuMs(target.pid)
    const fake0 = fake === null ? 0 : cpuMs(fake)
    const started = performance.now()
    await Promise.all(clients.map(async (client, index) => {
      for (let round = 0; round < rounds && client.socket.readyState === WebSocket.OPEN; round++) {
        await client.respond(create(10_000 + sockets * 100 + index, true)).then(
          (ms) => times.push(ms),
          (error) => fail(errors, error)
        )
      }
    }))
    const seconds = (performance.now() - started) / 1000
    const received = clients.reduce((sum, client) => sum + client.frames(), 0) - frames0
    const completed = Math.max(1, times.length)
    const sorted = times.sort((a, b) => a - b)
    frames.push({
      target: target.name,
      sockets,
      attempted: sockets * rounds,
      responses: times.length,
      errors,
      rps: times.length / seconds,
      fps: received / seconds,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      cpuPerResponse: (cpuMs(target.pid) - cpu0) / completed,
      fakeCpuPerResponse: fake === null ? null : (cpuMs(fake) - fake0) / completed,
      rss: rssMb(target.pid)
    })
    process.stderr.write(
      `  ${target.name} ${sockets} sockets: ${
        (times.length / seconds).toFixed(0)
      } responses/s, ${errors.count} errors\n`
    )
    await closeAll(clients, line)
  }
  // Every upstream socket must be gone once the client sockets are closed.
  for (let waited = 0; waited < 5_000 && socketFds(fakePid) > line.fakeSocketsBefore; waited += 100) await sleep(100)
  line.fakeSocketsAfter = socketFds(fakePid)
  line.upgraded = tally.upgraded - upgraded
  return { opens, frames, line }
}

export const webSocketBench = async (
  fake: FakeInfo,
  fakePid: number,
  targets: ReadonlyArray<string>,
  quick: boolean,
  profile: boolean
) => {
  let profileSummary = ""
  const account = fake.auth[0]?.tokens
  if (account === undefined) throw new Error("the fake backend has no account")
  const results: Array<Awaited<ReturnType<typeof run>>> = []
  for (const name of targets) {
    if (name === "direct") {
      const url = `${fake.url.replace(/^http/, "ws")}/responses`
      const headers = (id: string) => ({
        ...forwardRequestHeaders(Headers.fromInput({ ...codexHeaders("unused", id), ...beta })),
        ...accountHeaders({
          accessToken: Redacted.make(account.access_token),
          chatgptAccountId: account.account_id,
          fedramp: false
        })
      })
      process.stderr.write(`direct websocket: ${url} (pid ${fakePid})\n`)
      results.push(await run({ name, url, pid: fakePid, headers }, fakePid, quick ? 0.1 : 1))
    } else if (name === "gateway") {
      // A fake backend of its own, so its RSS baseline does not hold what the direct run left behind.
      const upstream = await start(["--import", "tsx", "bench/fake-server.ts"], {}, /^(\{.*\})$/m)
      const gateway = await startGateway(JSON.parse(upstream.match[1] ?? "") as FakeInfo, profile)
      const url = `${gateway.origin.replace(/^http/, "ws")}/backend-api/codex/responses`
      process.stderr.write(`gateway websocket: ${url} (pid ${gateway.server.pid})\n`)
      const headers = (id: string) => ({ ...codexHeaders(gateway.key, id), ...beta })
      results.push(await run({ name, url, pid: gateway.server.pid, headers }, upstream.pid, quick ? 0.1 : 1))
      await stopGateway(gateway)
      if (gateway.profileDir !== null) profileSummary = summariseProfiles(gateway.profileDir)
      await stop(upstream.child)
    } else {
      process.stderr.write(`websocket bench: skipping ${name} (only direct and gateway speak websocket)\n`)
    }
  }
  const flags = ["BENCH_WS", "BENCH_TARGETS", "BENCH_QUICK", "BENCH_PROFILE", "BENCH_LOG_LEVEL", "BENCH_DATABASE_URL"]
    .filter((flag) => process.env[flag] !== undefined)
    .map((flag) => `${flag}=${process.env[flag]} `)
    .join("")
  const git = (...args: Array<string>) => execFileSync("git", args, { cwd: root }).toString().trim()
  const code = `- code: commit ${git("rev-parse", "--short", "HEAD")}${
    git("status", "--porcelain", "--", "src", "migrations") === "" ? "" : " plus uncommitted src/ changes"
  }`
  const text = section(
    `${flags}npm run bench`,
    wsReport(results.flatMap((r) => r.opens), results.flatMap((r) => r.frames), results.map((r) => r.line)) +
      `\n${code}`
  )
  process.stdout.write(text)
  if (profileSummary !== "") process.stdout.write(`\n${profileSummary}\n`)
  if (!quick && !profile) {
    record(text)
    process.stdout.write("\nrecorded in BENCHMARKS.md\n")
  }
}
