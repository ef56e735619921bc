import type { AccountView } from "../../Mcp/AccountView.ts"
import type { KeyView } from "../../Mcp/KeyTools.ts"
import { trafficSection } from "./Charts.ts"
import { accountControls, adminForms, type Controls, keyControls, strategyControl } from "./Controls.ts"
import { type Cell, dash, document, html, table, when } from "./Html.ts"
import type { Snapshot } from "./Snapshot.ts"

type Key = typeof KeyView.Type

export const refreshSeconds = 15

const code = (value: string | null) => value === null ? dash : html`<code>${value}</code>`

const uptime = (seconds: number) => {
  const days = Math.floor(seconds / 86_400)
  const hours = Math.floor(seconds / 3600) % 24
  const minutes = Math.floor(seconds / 60) % 60
  return days > 0 ? `${days}d ${hours}h` : hours > 0 ? `${hours}h ${minutes}m` : `${minutes}m ${seconds % 60}s`
}

const statusSection = ({ counts, ...status }: Snapshot["status"]) =>
  table(
    [
      "status",
      "uptime",
      "database",
      "pools",
      "accounts active",
      "paused",
      "reauth required",
      "resting",
      "active keys",
      "in flight",
      "requests last hour",
      "live sessions"
    ],
    [[
      html`<span class="ok">${status.status}</span>`,
      uptime(status.uptimeSeconds),
      status.database,
      counts.pools,
      counts.accountsActive,
      counts.accountsPaused,
      counts.accountsReauthRequired,
      counts.accountsCoolingDown,
      counts.keysActive,
      counts.requestsInProgress,
      counts.requestsLastHour,
      counts.activeSessions
    ]],
    ""
  )

// The windows Codex's own /status reads (limit "codex"); one whose reset has passed no longer says anything.
const quotaBar = (account: AccountView, window: "primary" | "secondary", now: Date): Cell => {
  const quota = account.quota.find((row) => row.limitName === "codex" && row.window === window)
  if (quota === undefined) return null
  const { resetsAt, usedPercent } = quota
  if (resetsAt !== null && resetsAt.getTime() <= now.getTime()) return html`<span class="muted">reset</span>`
  const title = resetsAt === null ? "" : `resets ${resetsAt.toISOString()}`
  const percent = Number(usedPercent.toFixed(1))
  return html`<meter min="0" max="100" low="70" high="90" optimum="0" value="${usedPercent}" title="${title}"></meter>
${percent}%`
}

const accountRow = (now: Date) => (account: AccountView): ReadonlyArray<Cell> => [
  code(account.id),
  account.email,
  account.plan,
  account.status === "active" ? account.status : html`<span class="bad">${account.status}</span>`,
  account.cooldown === null
    ? null
    : html`${when(account.cooldown.until)} <span class="muted">${account.cooldown.reason}</span>`,
  account.circuit.state === "closed"
    ? account.circuit.state
    : html`<span class="bad">${account.circuit.state}</span> (${account.circuit.consecutiveFailures} failures)`,
  quotaBar(account, "primary", now),
  quotaBar(account, "secondary", now),
  account.resetCredits
]

// Saved usage-limit resets of the Pool's active accounts, as their usage answers last reported them.
const pooledResetCredits = (members: ReadonlyArray<AccountView>) =>
  members.filter((account) => account.status === "active").reduce(
    (sum, account) => sum + (account.resetCredits ?? 0),
    0
  )

// With controls, each row ends in a cell of its action forms.
const withControls = <A>(row: (item: A) => ReadonlyArray<Cell>, control?: (item: A) => Cell) => (item: A) =>
  control === undefined ? row(item) : [...row(item), control(item)]

const poolSection = (now: Date, controls?: Controls) => (pool: Snapshot["pools"][number]) =>
  html`<h3>${pool.name} <code>${pool.slug}</code></h3>
<p>strategy <code>${pool.strategy}</code> · ${pool.status} · active keys ${pool.keys} · reset credits ${
    pooledResetCredits(pool.members)
  }${controls === undefined ? null : html` · ${strategyControl(controls, pool)}`}</p>
${
    table(
      [
        "account",
        "e-mail",
        "plan",
        "status",
        "resting until",
        "circuit",
        "primary quota",
        "secondary quota",
        "reset credits",
        ...(controls === undefined ? [] : ["actions"])
      ],
      pool.members.map(withControls(accountRow(now), controls && accountControls(controls))),
      "No accounts."
    )
  }`

const limits = ({ limits }: Key) => {
  const parts = [
    limits.requestsPerMinute === null ? null : `${limits.requestsPerMinute} rpm`,
    limits.tokensPerDay === null ? null : `${limits.tokensPerDay.toLocaleString("en-US")} tokens/day`,
    limits.maxConcurrent === null ? null : `${limits.maxConcurrent} concurrent`,
    limits.allowedModels === null ? null : `models ${limits.allowedModels.join(", ")}`
  ].filter((part) => part !== null)
  return parts.length === 0 ? null : parts.join(" · ")
}

const keyRow = (key: Key): ReadonlyArray<Cell> => [
  code(key.id),
  key.name,
  key.pool,
  key.status === "active" ? key.status : html`<span class="muted">${key.status}</span>`,
  when(key.expiresAt),
  limits(key),
  when(key.usage.lastUsedAt),
  key.usage.requestsLast24h,
  key.usage.tokensLast24h
]

export const requestRow = (request: Snapshot["requests"][number]): ReadonlyArray<Cell> => [
  code(request.id),
  when(request.startedAt),
  request.poolSlug,
  code(request.keyId),
  code(request.accountId),
  `${request.route} ${request.transport}`,
  request.model,
  request.status === "failed" ? html`<span class="bad">${request.status}</span>` : request.status,
  request.httpStatus,
  request.errorCode,
  request.attempts,
  request.totalTokens,
  request.endedAt === null ? null : request.endedAt.getTime() - request.startedAt.getTime()
]

const usageRow = (group: Snapshot["usage"]["groups"][number]): ReadonlyArray<Cell> => [
  group.group,
  group.requests,
  group.succeeded,
  group.failed,
  group.inputTokens,
  group.cachedInputTokens,
  group.outputTokens,
  group.totalTokens
]

const keyHeaders = ["key", "name", "pool", "status", "expires", "limits", "last used", "requests 24 h", "tokens 24 h"]
const usageHeaders = [
  "pool",
  "requests",
  "succeeded",
  "failed",
  "input tokens",
  "cached input",
  "output tokens",
  "total tokens"
]
export const requestHeaders = [
  "request",
  "started",
  "pool",
  "key",
  "account",
  "route",
  "model",
  "status",
  "http",
  "error",
  "attempts",
  "tokens",
  "ms"
]

export interface View {
  // a session's page: the CSRF token its sign-out form carries (a bearer's page has no sign-out)
  readonly signOut?: string
  readonly controls?: Controls
  readonly notice?: { readonly ok: boolean; readonly text: string } | undefined
}

// An admin session's page does not reload by itself, which would drop a half-filled form.
export const dashboardPage = (snapshot: Snapshot, { controls, notice, signOut }: View = {}): string => {
  const now = snapshot.status.now
  const pools = snapshot.pools.length === 0
    ? html`<p class="muted">No Pools.</p>`
    : snapshot.pools.map(poolSection(now, controls))
  const keys = snapshot.keys.map(withControls(keyRow, controls && keyControls(controls)))
  const body = html`<header><h1>Codex Pooler</h1><span class="muted">as of ${when(now)}${
    controls === undefined ? `, every ${refreshSeconds} s` : html` · <a href="/admin">Reload</a>`
  } ·
${
    signOut === undefined
      ? null
      : html`<form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${signOut}"><button type="submit">Sign out</button></form>`
  }</span></header>
${notice === undefined ? null : html`<p class="${notice.ok ? "ok" : "bad"}" role="status">${notice.text}</p>`}
<h2>Service</h2>${statusSection(snapshot.status)}
<h2>Pools</h2>${pools}
<h2>Keys</h2>${table(controls === undefined ? keyHeaders : [...keyHeaders, "actions"], keys, "No keys.")}
${trafficSection(snapshot.charts, snapshot.pools.map((pool) => pool.slug))}
<h2>Usage, last 24 h, by Pool</h2>${table(usageHeaders, snapshot.usage.groups.map(usageRow), "No requests in 24 h.")}
<h2>Newest requests</h2><p><a href="/admin/requests">The request log, with filters</a></p>${
    table(requestHeaders, snapshot.requests.map(requestRow), "No requests yet.")
  }
${controls === undefined ? null : adminForms(controls, snapshot)}`
  return document(
    "Codex Pooler",
    body,
    controls === undefined ? html`<meta http-equiv="refresh" content="${refreshSeconds}">` : html``
  )
}
