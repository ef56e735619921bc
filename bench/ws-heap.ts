import { setTimeout as sleep } from "node:timers/promises"
import WebSocket from "ws"

// A full garbage collection in another Node process before its RSS is read, so ΔRSS counts live memory only:
// SIGUSR1 opens that process's inspector on 127.0.0.1:9229, HeapProfiler.collectGarbage runs twice, the heap in use
// is read, and the inspector is closed again (the next process needs the port). Resolves with heapUsed in MB.
const port = 9229
const listUrl = `http://127.0.0.1:${port}/json/list`

const debuggerUrl = () =>
  fetch(listUrl).then(
    async (answer) =>
      ((await answer.json()) as Array<{ readonly webSocketDebuggerUrl?: string }>)[0]?.webSocketDebuggerUrl,
    () => undefined
  )

export const collectGarbage = async (pid: number) => {
  if (await debuggerUrl() !== undefined) {
    throw new Error(`127.0.0.1:${port} already has an inspector; cannot force a GC in ${pid}`)
  }
  process.kill(pid, "SIGUSR1")
  let url: string | undefined
  for (let tries = 0; tries < 50 && url === undefined; tries++) {
    await sleep(100)
    url = await debuggerUrl()
  }
  if (url === undefined) throw new Error(`no inspector on 127.0.0.1:${port} after SIGUSR1 to ${pid}`)
  const socket = new WebSocket(url, { perMessageDeflate: false })
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve())
    socket.once("error", reject)
  })
  let id = 0
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<{ readonly result?: { readonly value?: unknown } }>((resolve, reject) => {
      const mine = ++id
      const timer = setTimeout(() => reject(new Error(`inspector ${method}: no answer`)), 30_000)
      const onMessage = (data: WebSocket.RawData) => {
        const message = JSON.parse(String(data)) as {
          readonly id?: number
          readonly result?: { readonly result?: { readonly value?: unknown } }
        }
        if (message.id !== mine) return
        clearTimeout(timer)
        socket.off("message", onMessage)
        resolve(message.result ?? {})
      }
      socket.on("message", onMessage)
      socket.send(JSON.stringify({ id: mine, method, params }))
    })
  const evaluate = async (expression: string) =>
    (await call("Runtime.evaluate", { expression, returnByValue: true })).result?.value
  try {
    const owner = await evaluate("process.pid")
    if (owner !== pid) throw new Error(`the inspector on 127.0.0.1:${port} belongs to pid ${String(owner)}, not ${pid}`)
    await call("HeapProfiler.collectGarbage")
    await call("HeapProfiler.collectGarbage")
    return Number(await evaluate("process.memoryUsage().heapUsed")) / 1024 / 1024
  } finally {
    // Closing the inspector ends this session too, so its answer never comes.
    socket.send(JSON.stringify({ id: ++id, method: "Runtime.evaluate", params: { expression: "process._debugEnd()" } }))
    await Promise.race([closed, sleep(5_000)])
    socket.terminate()
    for (let tries = 0; tries < 50 && await debuggerUrl() !== undefined; tries++) await sleep(100)
    // V8 and malloc hand freed pages back to the system a little after the collection.
    await sleep(1_000)
  }
}
