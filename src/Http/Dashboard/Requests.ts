import { Either } from "effect"
import type { RequestQuery } from "../../Activity.ts"
import type { RequestRow } from "../../Activity/ActivityRepo.ts"
import { InvalidInput } from "../../Domain/Errors.ts"
import { document, type Html, html, table } from "./Html.ts"
import { requestHeaders, requestRow } from "./Page.ts"

export const requestLogPath = "/admin/requests"

const pageSize = 50
const statuses = ["in_progress", "succeeded", "failed", "cancelled"] as const
const textFilters = [["pool", "Pool (slug or id)"], ["key", "key id"], ["account", "account id"], [
  "model",
  "model"
]] as const

export interface Filters {
  readonly pool: string
  readonly key: string
  readonly account: string
  readonly model: string
  readonly status: string
  readonly since: string
  readonly until: string
  readonly offset: number
}

export const emptyFilters: Filters = {
  pool: "",
  key: "",
  account: "",
  model: "",
  status: "",
  since: "",
  until: "",
  offset: 0
}

const bad = (message: string) => Either.left(new InvalidInput({ message }))

// The page's filters, from its address: each at most once and short; a time an ISO instant; a status one of four.
export const parseFilters = (url: string): Either.Either<{ filters: Filters; query: RequestQuery }, InvalidInput> => {
  const params = new URL(url, "http://gateway").searchParams
  const values: Record<string, string> = {}
  for (const name of ["pool", "key", "account", "model", "status", "since", "until", "offset"]) {
    const all = params.getAll(name)
    if (all.length > 1) return bad(`${name} is given more than once`)
    const value = (all[0] ?? "").trim()
    if (value.length > 128) return bad(`${name} is longer than 128 characters`)
    values[name] = value
  }
  const instant = (name: "since" | "until") => {
    const value = values[name] ?? ""
    if (value === "") return Either.right(undefined)
    const date = new Date(value)
    return Number.isNaN(date.getTime())
      ? bad(`${name} must be a time such as 2026-12-07T08:00:00Z`)
      : Either.right(date)
  }
  const status = values["status"] ?? ""
  if (status !== "" && !(statuses as ReadonlyArray<string>).includes(status)) {
    return bad(`status must be one of ${statuses.join(", ")}`)
  }
  const offsetText = values["offset"] ?? ""
  if (offsetText !== "" && !/^\d{1,7}$/.test(offsetText)) return bad("offset must be a whole number")
  const offset = offsetText === "" ? 0 : Number(offsetText)
  return Either.gen(function*() {
    const since = yield* instant("since")
    const until = yield* instant("until")
    const optional = (value: string | undefined) => value === undefined || value === "" ? undefined : value
    const filters: Filters = {
      pool: values["pool"] ?? "",
      key: values["key"] ?? "",
      account: values["account"] ?? "",
      model: values["model"] ?? "",
      status,
      since: values["since"] ?? "",
      until: values["until"] ?? "",
      offset
    }
    const query: RequestQuery = {
      pool: optional(filters.pool),
      keyId: optional(filters.key),
      accountId: optional(filters.account),
      model: optional(filters.model),
      status: optional(status),
      since,
      until,
      limit: pageSize,
      offset
    }
    return { filters, query }
  })
}

const input = (name: string, label: string, value: string, placeholder = "") =>
  html`<label>${label} <input name="${name}" value="${value}"${
    placeholder === "" ? null : html` placeholder="${placeholder}"`
  }></label>`

const filterForm = (filters: Filters): Html =>
  html`<form method="get" action="${requestLogPath}">${
    textFilters.map(([name, label]) => input(name, label, filters[name]))
  } <label>status <select name="status"><option value="">any</option>${
    statuses.map((status) =>
      html`<option value="${status}"${status === filters.status ? html` selected` : null}>${status}</option>`
    )
  }</select></label> ${input("since", "since", filters.since, "2026-12-07T00:00:00Z")} ${
    input("until", "until", filters.until, "optional")
  } <button type="submit">Filter</button></form>`

const pageLink = (filters: Filters, offset: number, label: string) => {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(filters)) {
    if (name !== "offset" && value !== "") params.set(name, String(value))
  }
  if (offset > 0) params.set("offset", String(offset))
  return html`<a href="${requestLogPath}?${params.toString()}">${label}</a>`
}

// The request log, newest first, filtered and paged: metadata only (never a prompt, an answer or a token).
export const requestLogPage = (
  filters: Filters,
  result: { readonly requests: ReadonlyArray<typeof RequestRow.Type>; readonly nextOffset: number | null } | null,
  error?: string
): string =>
  document(
    "Codex Pooler — requests",
    html`<header><h1>Requests</h1><span class="muted"><a href="/admin">Dashboard</a></span></header>
${filterForm(filters)}
${error === undefined ? null : html`<p class="bad" role="status">${error}</p>`}
${result === null ? null : table(requestHeaders, result.requests.map(requestRow), "No requests match.")}
<p>${filters.offset > 0 ? pageLink(filters, Math.max(0, filters.offset - pageSize), "Newer") : null} ${
      result !== null && result.nextOffset !== null ? pageLink(filters, result.nextOffset, "Older") : null
    }</p>`
  )
