import { Strategy } from "../../Domain/Models.ts"
import type { AccountView } from "../../Mcp/AccountView.ts"
import type { KeyView } from "../../Mcp/KeyTools.ts"
import { document, type Html, html } from "./Html.ts"
import { actionPaths } from "./Paths.ts"
import type { Snapshot } from "./Snapshot.ts"

// The action forms an admin session's page carries: plain forms (no script), each with the session's CSRF token.
export interface Controls {
  readonly csrf: string
}

const hidden = (name: string, value: string) => html`<input type="hidden" name="${name}" value="${value}">`

// `about` names the row a button acts on, for a screen reader (the row itself gives sighted users the context).
const form = (controls: Controls, path: string, fields: Html, label: string, about?: string) =>
  html`<form method="post" action="${path}">${hidden("csrf", controls.csrf)}${fields}<button type="submit"${
    about === undefined ? null : html` aria-label="${label} ${about}"`
  }>${label}</button></form>`

const text = (label: string, name: string, placeholder = "", required = false) =>
  html`<label>${label} <input name="${name}"${placeholder === "" ? null : html` placeholder="${placeholder}"`}${
    required ? html` required` : null
  }></label>`

const choice = (label: string, name: string, options: ReadonlyArray<string>, selected?: string) =>
  html`<label>${label} <select name="${name}">${
    options.map((option) =>
      html`<option value="${option}"${option === selected ? html` selected` : null}>${option}</option>`
    )
  }</select></label>`

export const accountControls = (controls: Controls) => (account: AccountView): Html => {
  const id = hidden("account", account.id)
  const about = `account ${account.id}`
  // A saved reset is worth spending only on an account resting at its usage limit (the server checks it too).
  const resting = account.cooldown !== null && account.cooldown.reason === "usage_limit" &&
    (account.resetCredits ?? 1) > 0
  return html`${
    account.status === "paused"
      ? form(controls, actionPaths.resumeAccount, id, "Resume", about)
      : form(controls, actionPaths.pauseAccount, id, "Pause", about)
  } ${form(controls, actionPaths.clearRest, id, "Clear rest", about)} ${
    resting ? form(controls, actionPaths.redeemReset, id, "Redeem a saved reset", about) : null
  } ${form(controls, actionPaths.signInAccount, id, "Sign in again", about)} ${
    form(
      controls,
      actionPaths.removeAccount,
      html`${id}<label><input type="checkbox" name="confirm" value="yes" required> confirm</label>`,
      "Remove",
      about
    )
  }`
}

export const keyControls = (controls: Controls) => (key: typeof KeyView.Type): Html | null =>
  key.status === "active"
    ? form(controls, actionPaths.revokeKey, hidden("key", key.id), "Revoke", `key ${key.id}`)
    : null

export const strategyControl = (controls: Controls, pool: Snapshot["pools"][number]): Html =>
  html`${
    form(
      controls,
      actionPaths.setPoolStrategy,
      html`${hidden("pool", pool.slug)}${choice("strategy", "strategy", Strategy.literals, pool.strategy)}`,
      "Set strategy",
      `of Pool ${pool.slug}`
    )
  } ${flagControl(controls, pool.slug, "autoRedeemResets", pool.autoRedeemResets, "automatic reset redemption")} ${
    flagControl(controls, pool.slug, "v1Enabled", pool.v1Enabled, "/v1")
  }`

// A Pool's on/off policy, as `pool set-auto-redeem` / `pool set-v1`: one button that turns it the other way.
const flagControl = (controls: Controls, pool: string, flag: string, on: boolean, name: string) =>
  form(
    controls,
    actionPaths.setPoolFlag,
    html`${hidden("pool", pool)}${hidden("flag", flag)}${hidden("on", on ? "false" : "true")}`,
    `Turn ${name} ${on ? "off" : "on"}`,
    `for Pool ${pool}`
  )

export const adminForms = (controls: Controls, snapshot: Snapshot): Html => {
  const pools = snapshot.pools.map((pool) => pool.slug)
  const keys = snapshot.keys.filter((key) => key.status === "active").map((key) => key.id)
  return html`<h2>Act</h2>
<h3>Add an account</h3><p class="muted">By device code: the next page shows where its owner signs in, and the code.</p>${
    form(controls, actionPaths.signInAccount, choice("Pool", "pool", pools), "Sign an account in")
  }
<h3>Create a key</h3>${
    form(
      controls,
      actionPaths.createKey,
      html`${choice("Pool", "pool", pools)} ${text("name", "name", "optional")} ${
        text("expires in", "expires", "e.g. 30d, optional")
      }`,
      "Create key"
    )
  }
<h3>Set a key's limits</h3><p class="muted">Empty keeps a limit as it is; <code>none</code> removes it.</p>${
    form(
      controls,
      actionPaths.setKeyLimits,
      html`${choice("key", "key", keys)} ${text("requests/min", "rpm")} ${text("tokens/day", "tokens_per_day")} ${
        text("max concurrent", "max_concurrent")
      } ${text("models", "models", "a,b")}`,
      "Set limits"
    )
  }
<h3>Create a Pool</h3>${
    form(
      controls,
      actionPaths.createPool,
      html`${text("slug", "slug", "lowercase-with-dashes", true)} ${text("name", "name", "optional")} ${
        choice("strategy", "strategy", Strategy.literals, "least_recently_used")
      }`,
      "Create Pool"
    )
  }`
}

// The new key's secret, on a page of its own that is never stored (no-store) and never shown again.
export const keyCreatedPage = (created: { keyId: string; pool: string; token: string }): string =>
  document(
    "Codex Pooler — new key",
    html`<h1>Key <code>${created.keyId}</code> created for Pool <code>${created.pool}</code></h1>
<p>Copy its secret now: it is not stored, and this page is the only time it is shown.</p>
<pre><code class="secret">${created.token}</code></pre>
<p><a href="/admin">Back to the dashboard</a></p>`
  )

// A refused post (its origin, its CSRF token, the token's scope, its body): nothing was changed.
export const refusedPage = (message: string): string =>
  document(
    "Codex Pooler — refused",
    html`<h1>Refused</h1><p class="bad">${message}</p><p>Nothing was changed.</p>
<p><a href="/admin">Back to the dashboard</a></p>`
  )

// A device sign-in followed from the dashboard: while it waits, where the account's owner goes and the code to enter
// (the page reloads itself every few seconds); then the account, or why it failed.
export const signInPage = (
  state:
    | { readonly waiting: { readonly verificationUrl: string; readonly userCode: string } }
    | {
      readonly account: { readonly id: string; readonly email: string | null; readonly pools: ReadonlyArray<string> }
    }
    | { readonly failed: string }
): string => {
  if ("waiting" in state) {
    return document(
      "Codex Pooler — sign-in",
      html`<h1>Waiting for the sign-in</h1>
<p>The account's owner opens <a href="${state.waiting.verificationUrl}">${state.waiting.verificationUrl}</a>, signs in
there and enters this code:</p>
<pre><code class="secret">${state.waiting.userCode}</code></pre>
<p class="muted">This page reloads itself until the code has been entered (at most 15 minutes).</p>
<p><a href="">Check now</a> · <a href="/admin">Back to the dashboard</a></p>`,
      html`<meta http-equiv="refresh" content="5">`
    )
  }
  if ("account" in state) {
    return document(
      "Codex Pooler — signed in",
      html`<h1>Signed in</h1><p class="ok">Account <code>${state.account.id}</code> ${
        state.account.email ?? ""
      } is in Pool ${state.account.pools.join(", ")}.</p><p><a href="/admin">Back to the dashboard</a></p>`
    )
  }
  return document(
    "Codex Pooler — sign-in failed",
    html`<h1>The sign-in did not finish</h1><p class="bad">${state.failed}</p><p>Nothing was saved.</p>
<p><a href="/admin">Back to the dashboard</a></p>`
  )
}
