import type { Errors } from "./ws-client.ts"

// The websocket section of BENCHMARKS.md: sockets held open, frames/s over busy sockets, and the close check.
export interface OpenRow {
  readonly target: string
  readonly attempted: number
  readonly open: number
  // Sockets opened by this level, in `seconds`.
  readonly step: number
  readonly errors: Errors
  readonly seconds: number
  readonly heapBefore: number
  readonly heapAfter: number
  readonly rssBefore: number
  readonly rssAfter: number
  readonly fakeBefore: number | null
  readonly fakeAfter: number | null
  readonly idleCpuPct: number
}

export interface FramesRow {
  readonly target: string
  readonly sockets: number
  readonly attempted: number
  readonly responses: number
  readonly errors: Errors
  readonly rps: number
  readonly fps: number
  readonly p50: number
  readonly p99: number
  readonly cpuPerResponse: number
  readonly fakeCpuPerResponse: number | null
  readonly rss: number
}

export interface CloseLine {
  readonly target: string
  upgraded: number
  closed: number
  clean: number
  fakeSocketsBefore: number
  fakeSocketsAfter: number
}

const fixed = (value: number | null, digits = 2) => value === null || Number.isNaN(value) ? "—" : value.toFixed(digits)
const perSocketKb = (before: number | null, after: number | null, sockets: number) =>
  before === null || after === null || sockets === 0 ? "—" : ((after - before) * 1024 / sockets).toFixed(1)

const explain =
  `Websocket transport (\`GET /backend-api/codex/responses\`, \`Upgrade: websocket\`), bench client \`ws\` without
permessage-deflate; the gateway gets a fake backend of its own. **Open sockets**: opened 50 at a time, each completes
one prewarm \`response.create\` (\`generate: false\`) and then stays open idle; the second level adds sockets to the first.
RSS is VmRSS of the target (for the gateway also of its fake backend, which holds the upstream socket of each gateway
socket) against one baseline taken after a warm-up: KB/socket = ΔRSS / open sockets. Before each reading a full GC is
forced through the process's inspector (SIGUSR1); live heap is V8 heapUsed after it. RSS still drifts by a few MB on
its own, so for small per-socket costs read the heap column. Idle CPU: the target's utime+stime over 4 s with every
socket idle, after 2 s of rest. **Frames/s**: K fresh sockets, each sending \`response.create\` one after another;
frames are all server→client frames (about 10 per response); response time is send → \`response.completed\`.`

const openTable = (rows: ReadonlyArray<OpenRow>) =>
  [
    "| target | sockets open / attempted | errors | time to open (this level) s | opens/s | target RSS before → after MB | target KB/socket | target live heap KB/socket | fake RSS before → after MB | fake KB/socket | idle target CPU % |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => {
      const fake = r.fakeBefore === null || r.fakeAfter === null
        ? "—"
        : `${fixed(r.fakeBefore, 0)} → ${fixed(r.fakeAfter, 0)}`
      return `| ${r.target} | ${r.open} / ${r.attempted} | ${r.errors.count} | ${fixed(r.seconds, 1)} | ${
        fixed(r.step / r.seconds, 0)
      } | ${fixed(r.rssBefore, 0)} → ${fixed(r.rssAfter, 0)} | ${perSocketKb(r.rssBefore, r.rssAfter, r.open)} | ${
        perSocketKb(r.heapBefore, r.heapAfter, r.open)
      } | ${fake} | ${perSocketKb(r.fakeBefore, r.fakeAfter, r.open)} | ${fixed(r.idleCpuPct, 1)} |`
    })
  ].join("\n")

const framesTable = (rows: ReadonlyArray<FramesRow>) =>
  [
    "| target | sockets | responses / attempted | errors | responses/s | frames/s | response p50 ms | response p99 ms | target CPU ms/response | fake CPU ms/response | target RSS MB |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) =>
      `| ${r.target} | ${r.sockets} | ${r.responses} / ${r.attempted} | ${r.errors.count} | ${fixed(r.rps, 0)} | ${
        fixed(r.fps, 0)
      } | ${fixed(r.p50)} | ${fixed(r.p99)} | ${fixed(r.cpuPerResponse, 3)} | ${fixed(r.fakeCpuPerResponse, 3)} | ${
        fixed(r.rss, 0)
      } |`
    )
  ].join("\n")

const lines = (opens: ReadonlyArray<OpenRow>, frames: ReadonlyArray<FramesRow>, closes: ReadonlyArray<CloseLine>) => {
  const out = closes.map((c) =>
    `- ${c.target}: ${c.upgraded} sockets upgraded (16 of them warm-up), ${c.closed} closed by the client, ${c.clean} of those answered with code 1000 (${
      c.upgraded === c.clean ? "all match" : "MISMATCH"
    }); fake backend socket fds ${c.fakeSocketsBefore} before, ${c.fakeSocketsAfter} after the last close`
  )
  const failed = [
    ...opens.map((r) => ({ name: `${r.target} open ${r.attempted}`, errors: r.errors })),
    ...frames.map((r) => ({ name: `${r.target} ${r.sockets} sockets`, errors: r.errors }))
  ]
    .filter((r) => r.errors.count > 0)
  const total = failed.reduce((sum, r) => sum + r.errors.count, 0)
  out.push(
    `- errors: ${total}${
      failed.map((r) => `; ${r.name}: ${r.errors.count}, e.g. ${r.errors.sample.slice(0, 160)}`).join("")
    }`
  )
  return out.join("\n")
}

export const wsReport = (
  opens: ReadonlyArray<OpenRow>,
  frames: ReadonlyArray<FramesRow>,
  closes: ReadonlyArray<CloseLine>
) => `${explain}\n\n${openTable(opens)}\n\n${framesTable(frames)}\n\n${lines(opens, frames, closes)}`
