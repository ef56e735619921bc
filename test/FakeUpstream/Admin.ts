import type { ServerResponse } from "node:http"
import { authJson, publicAccount } from "./Accounts.ts"
import type { Ctx } from "./Context.ts"
import { parseFault } from "./FaultParse.ts"
import { sendJson } from "./HttpUtil.ts"
import { isRecord, numberField, stringField } from "./Json.ts"
import { handleSignInAdmin } from "./SignInAdmin.ts"
import type { FakeAccountInit, RateLimits, Usage } from "./Types.ts"

const accountInit = (body: unknown): FakeAccountInit => {
  const init: FakeAccountInit = {}
  const accountId = stringField(body, "accountId")
  const email = stringField(body, "email")
  const plan = stringField(body, "plan")
  const ttl = numberField(body, "accessTokenTtlSeconds")
  const answer = stringField(body, "answer")
  if (accountId !== undefined) init.accountId = accountId
  if (email !== undefined) init.email = email
  if (plan !== undefined) init.plan = plan
  if (ttl !== undefined) init.accessTokenTtlSeconds = ttl
  if (answer !== undefined) init.answer = answer
  return init
}

const usagePatch = (body: unknown): Partial<Usage> => {
  const out: { -readonly [K in keyof Usage]?: number } = {}
  for (const key of ["inputTokens", "cachedTokens", "outputTokens", "reasoningTokens"] as const) {
    const value = numberField(body, key)
    if (value !== undefined) out[key] = value
  }
  return out
}

const rateLimitsPatch = (body: unknown): Partial<RateLimits> => {
  const out: { -readonly [K in keyof RateLimits]?: RateLimits[K] } = {}
  const numeric = [
    "primaryUsedPercent",
    "primaryWindowMinutes",
    "primaryResetAfterSeconds",
    "secondaryUsedPercent",
    "secondaryWindowMinutes",
    "secondaryResetAfterSeconds"
  ] as const
  for (const key of numeric) {
    const value = numberField(body, key)
    if (value !== undefined) out[key] = value
  }
  for (const key of ["hasCredits", "unlimited"] as const) {
    const value = isRecord(body) ? body[key] : undefined
    if (typeof value === "boolean") out[key] = value
  }
  const balance = stringField(body, "balance")
  if (balance !== undefined) out.balance = balance
  return out
}

const state = (ctx: Ctx) => ({
  accounts: ctx.accounts.all().map((account) => ({
    ...publicAccount(account),
    authJson: authJson(account),
    pendingFaults: ctx.faults.pending(account.accountId)
  })),
  requests: ctx.recorder.requests.length,
  refreshCalls: ctx.recorder.refreshCalls.length,
  codeExchanges: ctx.recorder.codeExchanges.length,
  devices: ctx.devices.list(),
  aborts: ctx.recorder.aborts,
  openSockets: ctx.sockets.size
})

// Control plane for the CLI-run fake: POST /__fake/faults {"accountId","fault":"usage_limit"|{kind,…},"times"?}
export const handleAdmin = (
  ctx: Ctx,
  res: ServerResponse,
  method: string,
  path: string,
  query: Record<string, string>,
  body: unknown
): void => {
  const route = `${method} ${path.slice("/__fake".length)}`
  const accountId = stringField(body, "accountId") ?? query["accountId"]
  const missingAccount = route !== "POST /accounts" && accountId !== undefined && !ctx.accounts.get(accountId)
  if (missingAccount) return sendJson(res, 404, { error: { message: `unknown account ${accountId}` } })
  switch (route) {
    case "GET /state":
      return sendJson(res, 200, state(ctx))
    case "GET /requests":
      return sendJson(res, 200, {
        requests: ctx.recorder.requests,
        refreshCalls: ctx.recorder.refreshCalls,
        codeExchanges: ctx.recorder.codeExchanges
      })
    case "POST /faults": {
      const fault = parseFault(isRecord(body) ? body["fault"] : undefined)
      if (accountId === undefined || fault === undefined) {
        return sendJson(res, 400, { error: { message: "need accountId and a known fault" } })
      }
      ctx.faults.push(accountId, fault, numberField(body, "times") ?? 1)
      return sendJson(res, 200, { ok: true, pending: ctx.faults.pending(accountId) })
    }
    case "DELETE /faults":
      ctx.faults.clear(accountId)
      return sendJson(res, 200, { ok: true })
    case "POST /accounts": {
      const account = ctx.accounts.add(accountInit(body))
      return sendJson(res, 201, { account: publicAccount(account), authJson: authJson(account) })
    }
    case "POST /answer": {
      const answer = stringField(body, "answer")
      if (answer === undefined) return sendJson(res, 400, { error: { message: "need answer" } })
      if (accountId === undefined) ctx.settings.answer = answer
      else ctx.accounts.require(accountId).answer = answer
      return sendJson(res, 200, { ok: true })
    }
    case "POST /usage": {
      const usage = usagePatch(body)
      if (accountId === undefined) ctx.settings.usage = { ...ctx.settings.usage, ...usage }
      else ctx.accounts.require(accountId).usage = usage
      return sendJson(res, 200, { ok: true })
    }
    case "POST /rate-limits": {
      if (accountId === undefined) return sendJson(res, 400, { error: { message: "need accountId" } })
      const account = ctx.accounts.require(accountId)
      account.rateLimits = { ...account.rateLimits, ...rateLimitsPatch(body) }
      return sendJson(res, 200, { ok: true, rateLimits: account.rateLimits })
    }
    case "POST /expire-access-token":
      if (accountId === undefined) return sendJson(res, 400, { error: { message: "need accountId" } })
      ctx.accounts.expireAccessToken(accountId)
      return sendJson(res, 200, { ok: true })
    case "POST /reset":
      ctx.recorder.reset()
      return sendJson(res, 200, { ok: true })
    default:
      if (handleSignInAdmin(ctx, res, route, accountId, body)) return
      return sendJson(res, 404, { error: { message: `no admin route ${route}` } })
  }
}
