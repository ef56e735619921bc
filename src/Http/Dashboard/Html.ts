// Markup built only through `html`, which escapes every interpolated value that is not itself markup, so a Pool
// name, a key name or an upstream error code can never become a tag.
export interface Html {
  readonly _tag: "Html"
  readonly text: string
}

type Part = Html | ReadonlyArray<Html> | string | number | null | undefined

const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }

export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (char) => entities[char] ?? char)

const isHtml = (part: Part): part is Html => typeof part === "object" && part !== null && "_tag" in part

const render = (part: Part): string => {
  if (part === null || part === undefined) return ""
  if (isHtml(part)) return part.text
  if (typeof part === "object") return part.map((child) => child.text).join("")
  return escapeHtml(String(part))
}

export const html = (strings: TemplateStringsArray, ...parts: ReadonlyArray<Part>): Html => ({
  _tag: "Html",
  text: strings.reduce((out, literal, index) => out + render(parts[index - 1]) + literal)
})

const style: Html = {
  _tag: "Html",
  text: `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2430;background:#f7f8fa}
h1{font-size:1.3rem;margin:0 0 1rem}h2{font-size:1.1rem;margin:1.8rem 0 .6rem}h3{font-size:1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;background:#fff;margin-bottom:.5rem}
th,td{border:1px solid #d8dde6;padding:.25rem .5rem;text-align:left;vertical-align:top;white-space:nowrap}
th{background:#eef1f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#6b7585}.bad{color:#b42318}.ok{color:#067647}code{font-size:.9em}
meter{width:6rem;vertical-align:middle}
form{display:inline}header{display:flex;justify-content:space-between;align-items:baseline}
.login{max-width:26rem;margin:4rem auto;background:#fff;padding:1.5rem;border:1px solid #d8dde6}
.login input[type=password]{width:100%;box-sizing:border-box;margin:.5rem 0;padding:.4rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{margin:0;background:#fff;border:1px solid #d8dde6;padding:.4rem}
.chart rect{fill:#2e5aac}.chart line{stroke:#6b7585}figcaption{font-size:.85em;color:#1d2430}
.bar{display:inline-block;height:.7rem;background:#b42318;min-width:1px}
`
}

export const document = (title: string, body: Html, head: Html = html``): string =>
  html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title>${head}<style>${style}</style></head>
<body>${body}</body></html>`.text

// No value is ever put back into the form: the token a browser typed is not echoed, not even after a failure.
export const loginPage = (message: string | undefined): string =>
  document(
    "Codex Pooler — sign in",
    html`<form class="login" method="post" action="/admin/login">
<h1>Codex Pooler</h1>
<p>Sign in with an operator token (<code>npx codex-pooler operator-token create</code>).</p>
${message === undefined ? null : html`<p class="bad">${message}</p>`}
<label for="token">Operator token</label>
<input id="token" name="token" type="password" autocomplete="off" required placeholder="cpo_…">
<button type="submit">Sign in</button>
</form>`
  )

export const dash = html`<span class="muted">—</span>`

const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, "Z")

export const when = (date: Date | null): Html =>
  date === null ? dash : html`<time datetime="${iso(date)}">${iso(date).replace("T", " ").replace("Z", " UTC")}</time>`

export type Cell = Html | string | number | null

const cell = (value: Cell) =>
  typeof value === "number"
    ? html`<td class="n">${value.toLocaleString("en-US")}</td>`
    : html`<td>${value ?? dash}</td>`

export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<Cell>>, empty: string): Html =>
  rows.length === 0
    ? html`<p class="muted">${empty}</p>`
    : html`<table><thead><tr>${headers.map((header) => html`<th>${header}</th>`)}</tr></thead>
<tbody>${rows.map((row) => html`<tr>${row.map(cell)}</tr>`)}</tbody></table>`
