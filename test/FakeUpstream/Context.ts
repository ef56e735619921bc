import type { WebSocket } from "ws"
import type { Accounts, AccountState } from "./Accounts.ts"
import type { AuthCodes } from "./AuthCodes.ts"
import type { DeviceCodes } from "./DeviceCodes.ts"
import type { Faults } from "./Faults.ts"
import type { Recorder } from "./Recorder.ts"
import { defaultUsage } from "./Responses.ts"
import type { SignInChoice, Usage } from "./Types.ts"

export interface Settings {
  answer: string
  eventDelayMs: number
  modelsEtag: string
  usage: Usage
}

export interface Ctx {
  readonly accounts: Accounts
  readonly faults: Faults
  readonly recorder: Recorder
  readonly settings: Settings
  readonly nextId: () => number
  readonly sockets: Set<WebSocket>
  // realtime call id → the account that made it (POST /realtime/calls), for the sideband join
  readonly calls: Map<string, string>
  readonly codes: AuthCodes
  // consumed one per GET /oauth/authorize
  readonly signIns: Array<SignInChoice>
  readonly devices: DeviceCodes
  // the fake's own origin (fake.authUrl), known once it listens: device codes redirect to {issuer}/deviceauth/callback
  issuer: string
  closing: boolean
}

export const answerFor = (ctx: Ctx, account: AccountState): string => account.answer ?? ctx.settings.answer

export const usageFor = (ctx: Ctx, account: AccountState): Usage => ({ ...ctx.settings.usage, ...account.usage })

export const initialSettings = (answer: string | undefined, eventDelayMs: number | undefined): Settings => ({
  answer: answer ?? "hi",
  eventDelayMs: eventDelayMs ?? 0,
  modelsEtag: `W/"fake-models-etag-1"`,
  usage: defaultUsage
})
