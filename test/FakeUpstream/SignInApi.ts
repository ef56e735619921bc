import type { Ctx } from "./Context.ts"
import type { DeviceAuthSettings, DeviceCodeView } from "./DeviceCodes.ts"
import type { CodeExchange, SignInChoice } from "./Types.ts"

export interface DeviceAutoOptions {
  readonly afterPolls?: number
}

// The test's side of the sign-in flows: whom a sign-in signs in, and what a device code's user does.
export interface FakeSignIn {
  // one per GET /oauth/authorize, in order; an account id must exist (fake.addAccount)
  nextSignIn(choice: SignInChoice): void
  setDeviceAuth(settings: Partial<DeviceAuthSettings>): void
  approveDevice(userCode: string, accountId: string): void
  denyDevice(userCode: string): void
  // the next device code issued is approved for the account (or denied) after `afterPolls` pending polls (default 0)
  autoApproveDevice(accountId: string, options?: DeviceAutoOptions): void
  autoApproveDevice(rule: { readonly deny: true } & DeviceAutoOptions): void
  deviceCodes(): ReadonlyArray<DeviceCodeView>
  // every /oauth/token call other than a refresh (those are refreshCalls)
  readonly codeExchanges: ReadonlyArray<CodeExchange>
}

export const signInApi = (ctx: Ctx): FakeSignIn => ({
  nextSignIn: (choice) => {
    if (typeof choice === "string") ctx.accounts.require(choice)
    ctx.signIns.push(choice)
  },
  setDeviceAuth: (settings) => {
    ctx.devices.settings = { ...ctx.devices.settings, ...settings }
  },
  approveDevice: (userCode, accountId) => {
    ctx.accounts.require(accountId)
    ctx.devices.decide(userCode, { accountId })
  },
  denyDevice: (userCode) => ctx.devices.decide(userCode, { deny: true }),
  autoApproveDevice: (target: string | { readonly deny: true } & DeviceAutoOptions, options?: DeviceAutoOptions) => {
    if (typeof target !== "string") return ctx.devices.queueRule({ deny: true, afterPolls: target.afterPolls ?? 0 })
    ctx.accounts.require(target)
    ctx.devices.queueRule({ accountId: target, afterPolls: options?.afterPolls ?? 0 })
  },
  deviceCodes: () => ctx.devices.list(),
  codeExchanges: ctx.recorder.codeExchanges
})
