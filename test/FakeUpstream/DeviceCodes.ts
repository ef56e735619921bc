import { randomBytes, randomInt } from "node:crypto"

export interface DeviceAuthSettings {
  // a JSON string on the wire: Codex parses `interval` as a string and fails on a number
  readonly interval: string
  readonly expiresInSeconds: number
  // off: the usercode route answers 404, as an issuer without device auth does
  readonly enabled: boolean
  // on: a poll sooner than the interval after the previous one answers slow_down, and the interval grows by 5 s
  readonly enforceInterval: boolean
}

export type DeviceStatus = "pending" | "approved" | "denied" | "collected" | "expired"

export type DeviceDecision = { readonly accountId: string } | { readonly deny: true }

// for a device code not issued yet: decide after that many pending polls
export type DeviceRule = DeviceDecision & { readonly afterPolls: number }

export interface DeviceCodeView {
  readonly deviceAuthId: string
  readonly userCode: string
  readonly status: DeviceStatus
  readonly polls: number
  readonly accountId?: string
  readonly expiresAt: string
}

interface DeviceCode {
  readonly deviceAuthId: string
  readonly userCode: string
  readonly expiresAt: number
  readonly rule: DeviceRule | undefined
  decision: DeviceDecision | undefined
  collected: boolean
  polls: number
  pendingPolls: number
  lastPollAt?: number
  intervalSeconds: number
}

export type PollOutcome =
  | { readonly kind: "unknown" | "pending" | "slow_down" | "denied" | "expired" }
  | { readonly kind: "approved"; readonly accountId: string }

export const defaultDeviceAuth: DeviceAuthSettings = {
  interval: "0",
  expiresInSeconds: 900,
  enabled: true,
  enforceInterval: false
}

const letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
const userCode = () =>
  `${Array.from({ length: 4 }, () => letters[randomInt(letters.length)]).join("")}-${
    String(randomInt(10_000)).padStart(4, "0")
  }`

const statusOf = (code: DeviceCode): DeviceStatus => {
  if (code.collected) return "collected"
  if (code.expiresAt <= Date.now()) return "expired"
  if (code.decision === undefined) return "pending"
  return "deny" in code.decision ? "denied" : "approved"
}

const accountOf = (code: DeviceCode): string | undefined =>
  code.decision !== undefined && "accountId" in code.decision ? code.decision.accountId : undefined

export class DeviceCodes {
  settings: DeviceAuthSettings = defaultDeviceAuth
  readonly #byUserCode = new Map<string, DeviceCode>()
  // for the next device codes issued, in order
  readonly #rules: Array<DeviceRule> = []

  issue(): { readonly deviceAuthId: string; readonly userCode: string; readonly expiresAt: Date } {
    let code = userCode()
    while (this.#byUserCode.has(code)) code = userCode()
    const issued: DeviceCode = {
      deviceAuthId: `deviceauth_${randomBytes(12).toString("base64url")}`,
      userCode: code,
      expiresAt: Date.now() + this.settings.expiresInSeconds * 1000,
      rule: this.#rules.shift(),
      decision: undefined,
      collected: false,
      polls: 0,
      pendingPolls: 0,
      intervalSeconds: Number(this.settings.interval) || 0
    }
    this.#byUserCode.set(code, issued)
    return { deviceAuthId: issued.deviceAuthId, userCode: code, expiresAt: new Date(issued.expiresAt) }
  }

  require(code: string): DeviceCode {
    const found = this.#byUserCode.get(code)
    if (found === undefined) throw new Error(`unknown fake device code ${code}`)
    return found
  }

  decide(code: string, decision: DeviceDecision): void {
    this.require(code).decision = decision
  }

  queueRule(rule: DeviceRule): void {
    this.#rules.push(rule)
  }

  list(): ReadonlyArray<DeviceCodeView> {
    return [...this.#byUserCode.values()].map((code) => {
      const accountId = accountOf(code)
      return {
        deviceAuthId: code.deviceAuthId,
        userCode: code.userCode,
        status: statusOf(code),
        polls: code.polls,
        ...(accountId === undefined ? {} : { accountId }),
        expiresAt: new Date(code.expiresAt).toISOString()
      }
    })
  }

  poll(deviceAuthId: string, userCode: string): PollOutcome {
    const code = this.#byUserCode.get(userCode)
    if (code === undefined || code.deviceAuthId !== deviceAuthId) return { kind: "unknown" }
    code.polls += 1
    if (code.collected) return { kind: "unknown" }
    if (statusOf(code) === "expired") return { kind: "expired" }
    const now = Date.now()
    const early = code.lastPollAt !== undefined && now - code.lastPollAt < code.intervalSeconds * 1000
    code.lastPollAt = now
    if (code.decision === undefined && early && this.settings.enforceInterval) {
      code.intervalSeconds += 5
      return { kind: "slow_down" }
    }
    if (code.decision === undefined && code.rule !== undefined && code.pendingPolls >= code.rule.afterPolls) {
      code.decision = code.rule
    }
    const decision = code.decision
    if (decision === undefined) {
      code.pendingPolls += 1
      return { kind: "pending" }
    }
    if ("deny" in decision) return { kind: "denied" }
    code.collected = true
    return { kind: "approved", accountId: decision.accountId }
  }
}
