import { createServer } from "node:http"
import type { Socket } from "node:net"
import type { WebSocket } from "ws"
import { Accounts, authJson, publicAccount } from "./Accounts.ts"
import { AuthCodes } from "./AuthCodes.ts"
import { type Ctx, initialSettings } from "./Context.ts"
import { DeviceCodes } from "./DeviceCodes.ts"
import { parseFault } from "./FaultParse.ts"
import { Faults } from "./Faults.ts"
import { sendJson } from "./HttpUtil.ts"
import { Recorder } from "./Recorder.ts"
import { handleRequest } from "./Router.ts"
import { type FakeSignIn, signInApi } from "./SignInApi.ts"
import type {
  FakeAccount,
  FakeAccountInit,
  Fault,
  FaultKind,
  RateLimits,
  RecordedRequest,
  RefreshCall,
  Usage
} from "./Types.ts"
import { makeUpgradeHandler } from "./WebSocket.ts"

export type { DeviceAuthSettings, DeviceCodeView, DeviceStatus } from "./DeviceCodes.ts"
export { TOOL_ARGUMENTS, TOOL_TRIGGER } from "./Items.ts"
export type { DeviceAutoOptions, FakeSignIn } from "./SignInApi.ts"
export type {
  CodeExchange,
  FakeAccount,
  FakeAccountInit,
  Fault,
  FaultKind,
  RateLimits,
  RecordedRequest,
  RefreshCall,
  SignInChoice,
  StatusFault,
  StreamFault,
  Usage
} from "./Types.ts"

export interface FakeUpstreamOptions {
  readonly accounts?: ReadonlyArray<FakeAccountInit>
  readonly answer?: string
  readonly port?: number
  readonly eventDelayMs?: number
}

export interface FakeUpstream extends FakeSignIn {
  readonly port: number
  readonly origin: string
  readonly url: string
  readonly authUrl: string
  // the realtime websocket, where a voice call's sideband is joined
  readonly realtimeUrl: string
  addAccount(init?: FakeAccountInit): FakeAccount
  account(accountId: string): FakeAccount
  accounts(): ReadonlyArray<FakeAccount>
  authJson(accountId: string): unknown
  fault(accountId: string, fault: Fault | FaultKind, times?: number): void
  clearFaults(accountId?: string): void
  pendingFaults(accountId: string): ReadonlyArray<{ readonly fault: Fault; readonly remaining: number }>
  setAnswer(answer: string, accountId?: string): void
  setEventDelay(ms: number): void
  setUsage(usage: Partial<Usage>, accountId?: string): void
  setRateLimits(accountId: string, limits: Partial<RateLimits>): void
  expireAccessToken(accountId: string): void
  bumpModelsEtag(): string
  readonly modelsEtag: string
  readonly requests: ReadonlyArray<RecordedRequest>
  readonly refreshCalls: ReadonlyArray<RefreshCall>
  readonly aborts: number
  openSockets(): number
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>
  reset(): void
  close(): Promise<void>
}

const toFault = (fault: Fault | FaultKind): Fault => {
  const parsed = typeof fault === "string" ? parseFault(fault) : fault
  if (parsed === undefined) throw new Error(`unknown fault ${String(fault)}`)
  return parsed
}

export const startFakeUpstream = async (options: FakeUpstreamOptions = {}): Promise<FakeUpstream> => {
  let counter = 0
  const ctx: Ctx = {
    accounts: new Accounts(),
    faults: new Faults(),
    recorder: new Recorder(),
    settings: initialSettings(options.answer, options.eventDelayMs),
    nextId: () => ++counter,
    sockets: new Set<WebSocket>(),
    calls: new Map(),
    codes: new AuthCodes(),
    signIns: [],
    devices: new DeviceCodes(),
    issuer: "",
    closing: false
  }
  for (const init of options.accounts ?? []) ctx.accounts.add(init)
  const connections = new Set<Socket>()
  const server = createServer((req, res) => {
    handleRequest(ctx, req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy()
      else sendJson(res, 500, { error: { type: "server_error", message: String(error) } })
    })
  })
  const upgrades = makeUpgradeHandler(ctx)
  server.on("upgrade", upgrades.handle)
  server.on("connection", (socket) => {
    connections.add(socket)
    socket.on("close", () => connections.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("fake upstream has no TCP address")
  const port = address.port
  const origin = `http://127.0.0.1:${port}`
  ctx.issuer = origin
  let etagCounter = 1

  return {
    ...signInApi(ctx),
    port,
    origin,
    url: `${origin}/backend-api/codex`,
    authUrl: origin,
    realtimeUrl: `ws://127.0.0.1:${port}/v1/realtime`,
    addAccount: (init) => publicAccount(ctx.accounts.add(init)),
    account: (accountId) => publicAccount(ctx.accounts.require(accountId)),
    accounts: () => ctx.accounts.all().map(publicAccount),
    authJson: (accountId) => authJson(ctx.accounts.require(accountId)),
    fault: (accountId, fault, times) => {
      ctx.accounts.require(accountId)
      ctx.faults.push(accountId, toFault(fault), times)
    },
    clearFaults: (accountId) => ctx.faults.clear(accountId),
    pendingFaults: (accountId) => ctx.faults.pending(accountId),
    setAnswer: (answer, accountId) => {
      if (accountId === undefined) ctx.settings.answer = answer
      else ctx.accounts.require(accountId).answer = answer
    },
    setEventDelay: (ms) => {
      ctx.settings.eventDelayMs = ms
    },
    setUsage: (usage, accountId) => {
      if (accountId === undefined) ctx.settings.usage = { ...ctx.settings.usage, ...usage }
      else ctx.accounts.require(accountId).usage = usage
    },
    setRateLimits: (accountId, limits) => {
      const account = ctx.accounts.require(accountId)
      account.rateLimits = { ...account.rateLimits, ...limits }
    },
    expireAccessToken: (accountId) => ctx.accounts.expireAccessToken(accountId),
    bumpModelsEtag: () => (ctx.settings.modelsEtag = `W/"fake-models-etag-${++etagCounter}"`),
    get modelsEtag() {
      return ctx.settings.modelsEtag
    },
    requests: ctx.recorder.requests,
    refreshCalls: ctx.recorder.refreshCalls,
    get aborts() {
      return ctx.recorder.aborts
    },
    openSockets: () => ctx.sockets.size,
    waitFor: async (predicate, timeoutMs = 2000) => {
      const deadline = Date.now() + timeoutMs
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error("FakeUpstream.waitFor timed out")
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    },
    reset: () => ctx.recorder.reset(),
    close: async () => {
      ctx.closing = true
      for (const ws of ctx.sockets) ws.terminate()
      upgrades.wss.close()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of connections) socket.destroy()
      await closed
    }
  }
}
