import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

// Summarises a V8 .cpuprofile (node --cpu-prof): top functions by self time, and self time per package.
interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const shortUrl = (url: string) => {
  const modules = url.lastIndexOf("node_modules/")
  if (modules >= 0) return url.slice(modules + "node_modules/".length)
  const dist = url.indexOf("/dist/")
  if (dist >= 0) return url.slice(dist + 1)
  return url.replace(/^file:\/\//, "")
}

const packageOf = (url: string) => {
  if (url === "") return "(native/V8)"
  if (url.startsWith("node:")) return "node core"
  const rest = url.slice(url.lastIndexOf("node_modules/") + "node_modules/".length)
  if (!url.includes("node_modules/")) return url.includes("/dist/") ? "codex-pooler dist/" : shortUrl(url)
  const parts = rest.split("/")
  return rest.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0] ?? rest
}

const frameName = (frame: CallFrame) =>
  `${frame.functionName || "(anonymous)"} ${frame.url === "" ? "" : `${shortUrl(frame.url)}:${frame.lineNumber + 1}`}`
    .trimEnd()

// The nearest caller outside node core of a native frame (writev; GC has none), so native time can be attributed.
const jsCaller = (id: number, nodes: ReadonlyMap<number, ProfileNode>, parents: ReadonlyMap<number, number>) => {
  for (let parent = parents.get(id); parent !== undefined; parent = parents.get(parent)) {
    const frame = nodes.get(parent)?.callFrame
    if (frame !== undefined && frame.url !== "" && !frame.url.startsWith("node:")) return frameName(frame)
  }
  return "(no JavaScript caller)"
}

const top = (totals: Map<string, number>, count: number, all: number) =>
  [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, micros]) =>
      `${(micros / 1000).toFixed(0).padStart(7)} ms ${(100 * micros / all).toFixed(1).padStart(5)} %  ${name}`
    )

export const summariseProfiles = (dir: string, count = 10) => {
  const files = readdirSync(dir).filter((file) => file.endsWith(".cpuprofile"))
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  const callers = new Map<string, Map<string, number>>()
  let all = 0
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
    const parents = new Map(
      profile.nodes.flatMap((node) => (node.children ?? []).map((child) => [child, node.id] as const))
    )
    profile.samples.forEach((id, index) => {
      const frame = nodes.get(id)?.callFrame
      const micros = profile.timeDeltas[index] ?? 0
      if (frame === undefined || frame.functionName === "(idle)") return
      const name = frameName(frame)
      all += micros
      if (frame.url === "") {
        const byCaller = callers.get(name) ?? new Map<string, number>()
        const caller = jsCaller(id, nodes, parents)
        byCaller.set(caller, (byCaller.get(caller) ?? 0) + micros)
        callers.set(name, byCaller)
      }
      byFunction.set(name, (byFunction.get(name) ?? 0) + micros)
      const pkg = packageOf(frame.url)
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros)
    })
  }
  return [
    `CPU profile of the gateway (${files.length} file(s), ${(all / 1000).toFixed(0)} ms busy, idle excluded)`,
    `top ${count} functions by self time:`,
    ...top(byFunction, count, all).flatMap((line) => {
      const name = line.slice(line.indexOf("%") + 3)
      const byCaller = callers.get(name)
      return byCaller === undefined
        ? [line]
        : [line, ...top(byCaller, 3, all).map((caller) => `      ← ${caller.trimStart()}`)]
    }),
    "self time by package:",
    ...top(byPackage, 8, all)
  ].join("\n")
}
