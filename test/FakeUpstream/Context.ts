import type { WebSocket } from "ws"
import type { Accounts, AccountState } from "./Accounts.ts"
import type { Faults } from "./Faults.ts"
import type { Recorder } from "./Recorder.ts"
import { defaultUsage } from "./Responses.ts"
import type { Usage } from "./Types.ts"

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
