import type { Effect } from "effect"
import type { Activity } from "../../Activity.ts"
import { type Html, html, table } from "./Html.ts"

type Charts = Effect.Effect.Success<Activity["charts"]>

const hourMs = 3_600_000
const dayMs = 24 * hourMs
const height = 48

// One series as bars, drawn on the server (no script): each bar says its bucket and value in a <title>, and the
// picture as a whole says what it shows and its total, for a screen reader.
const bars = (label: string, values: ReadonlyArray<number>, names: ReadonlyArray<string>, barWidth: number): Html => {
  const max = Math.max(1, ...values)
  const total = values.reduce((sum, value) => sum + value, 0)
  const width = values.length * barWidth
  return html`<figure class="chart"><svg role="img" aria-label="${label}: ${
    total.toLocaleString("en-US")
  } in all" width="${String(width)}" height="${String(height + 2)}" viewBox="0 0 ${String(width)} ${
    String(height + 2)
  }">${
    values.map((value, i) => {
      const h = Math.round((value / max) * height)
      return html`<rect x="${String(i * barWidth + 1)}" y="${String(height - h + 1)}" width="${
        String(barWidth - 2)
      }" height="${String(Math.max(h, value > 0 ? 1 : 0))}"><title>${names[i] ?? ""}: ${
        value.toLocaleString("en-US")
      }</title></rect>`
    })
  }<line x1="0" y1="${String(height + 1)}" x2="${String(width)}" y2="${
    String(height + 1)
  }"></line></svg><figcaption>${label}: ${total.toLocaleString("en-US")}</figcaption></figure>`
}

const buckets = (since: Date, step: number, count: number) =>
  Array.from({ length: count }, (_, i) => new Date(since.getTime() + i * step))

const series = (
  rows: Charts["hourly"]["rows"],
  pool: string,
  since: Date,
  step: number,
  count: number,
  pick: "requests" | "tokens"
) => {
  const values = Array.from({ length: count }, () => 0)
  for (const row of rows) {
    if (row.pool !== pool) continue
    const index = Math.floor((row.bucket.getTime() - since.getTime()) / step)
    if (index >= 0 && index < count) values[index] = (values[index] ?? 0) + row[pick]
  }
  return values
}

const hourName = (date: Date) => `${date.toISOString().slice(11, 13)}:00 UTC`
const dayName = (date: Date) => date.toISOString().slice(0, 10)

// Requests and tokens per Pool: by hour over the last 24 hours, by day over the last 7 days; errors by code.
export const trafficSection = (charts: Charts, pools: ReadonlyArray<string>): Html => {
  // Each window's requests chart, then its tokens chart.
  const windows = [
    { ...charts.hourly, span: "last 24 h by hour", step: hourMs, count: 24, name: hourName, barWidth: 12 },
    { ...charts.daily, span: "last 7 days", step: dayMs, count: 7, name: dayName, barWidth: 40 }
  ]
  const poolCharts = pools.map((pool) =>
    html`<h3>${pool}</h3><div class="charts">${
      windows.flatMap((window) => {
        const names = buckets(window.since, window.step, window.count).map(window.name)
        return (["requests", "tokens"] as const).map((pick) =>
          bars(
            `${pick}, ${window.span}`,
            series(window.rows, pool, window.since, window.step, window.count, pick),
            names,
            window.barWidth
          )
        )
      })
    }</div>`
  )
  const errorMax = Math.max(1, ...charts.errors.map((error) => error.requests))
  const errorRows = charts.errors.map((error) => [
    html`<code>${error.code}</code>`,
    error.requests,
    html`<span class="bar" style="width:${
      String(Math.round((error.requests / errorMax) * 100))
    }%" aria-hidden="true"></span>`
  ])
  return html`<h2>Traffic</h2>${pools.length === 0 ? html`<p class="muted">No Pools.</p>` : poolCharts}
<h2>Errors, last 24 h, by code</h2>${table(["code", "failed requests", ""], errorRows, "No failed requests in 24 h.")}`
}
