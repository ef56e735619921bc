import type { ServerResponse } from "node:http"
import type { Ctx } from "./Context.ts"
import type { DeviceAuthSettings } from "./DeviceCodes.ts"
import { sendJson } from "./HttpUtil.ts"
import { isRecord, numberField, stringField } from "./Json.ts"
import { type FakeSignIn, signInApi } from "./SignInApi.ts"
import type { SignInChoice } from "./Types.ts"

interface Input {
  readonly api: FakeSignIn
  readonly ctx: Ctx
  readonly accountId: string | undefined
  readonly body: unknown
}

const settingsPatch = (body: unknown): Partial<DeviceAuthSettings> => {
  const out: { -readonly [K in keyof DeviceAuthSettings]?: DeviceAuthSettings[K] } = {}
  const interval = isRecord(body) ? body["interval"] : undefined
  if (typeof interval === "string" || typeof interval === "number") out.interval = String(interval)
  const expiresInSeconds = numberField(body, "expiresInSeconds")
  if (expiresInSeconds !== undefined) out.expiresInSeconds = expiresInSeconds
  for (const key of ["enabled", "enforceInterval"] as const) {
    const value = isRecord(body) ? body[key] : undefined
    if (typeof value === "boolean") out[key] = value
  }
  return out
}

const denies = (body: unknown) => isRecord(body) && body["deny"] !== undefined && body["deny"] !== false

const required = (accountId: string | undefined): string => {
  if (accountId === undefined) throw new Error("need accountId (or deny)")
  return accountId
}

const choiceOf = ({ accountId, body }: Input): SignInChoice => {
  if (!denies(body)) return required(accountId)
  const description = stringField(body, "description")
  return { deny: stringField(body, "deny") ?? "access_denied", ...(description === undefined ? {} : { description }) }
}

const userCodeOf = (body: unknown) => stringField(body, "userCode") ?? ""
const afterPollsOf = (body: unknown) => numberField(body, "afterPolls") ?? 0

const routes: Record<string, (input: Input) => unknown> = {
  "POST /sign-ins": (input) => input.api.nextSignIn(choiceOf(input)),
  "POST /device-auth": ({ api, body, ctx }) => {
    api.setDeviceAuth(settingsPatch(body))
    return { deviceAuth: ctx.devices.settings }
  },
  "GET /devices": ({ api }) => ({ devices: api.deviceCodes() }),
  "POST /devices/approve": ({ accountId, api, body }) => api.approveDevice(userCodeOf(body), required(accountId)),
  "POST /devices/deny": ({ api, body }) => api.denyDevice(userCodeOf(body)),
  "POST /devices/auto": ({ accountId, api, body }) =>
    denies(body)
      ? api.autoApproveDevice({ deny: true, afterPolls: afterPollsOf(body) })
      : api.autoApproveDevice(required(accountId), { afterPolls: afterPollsOf(body) })
}

// The sign-in hooks for the CLI-run fake (Admin.ts has already refused an unknown accountId); false for another route.
export const handleSignInAdmin = (
  ctx: Ctx,
  res: ServerResponse,
  route: string,
  accountId: string | undefined,
  body: unknown
): boolean => {
  const handler = routes[route]
  if (handler === undefined) return false
  try {
    const answer = handler({ api: signInApi(ctx), ctx, accountId, body })
    sendJson(res, 200, { ok: true, ...(isRecord(answer) ? answer : {}) })
  } catch (error) {
    sendJson(res, 400, { error: { message: error instanceof Error ? error.message : String(error) } })
  }
  return true
}
