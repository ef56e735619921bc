import { Options } from "@effect/cli"
import { Console, Effect } from "effect"

export const json = Options.boolean("json").pipe(Options.withDescription("print JSON for scripts"))

const cell = (value: unknown): string =>
  value === null || value === undefined
    ? "-"
    : value instanceof Date
    ? value.toISOString()
    : Array.isArray(value)
    ? value.join(",") || "-"
    : String(value)

export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<unknown>>): string => {
  const cells = [headers, ...rows.map((row) => row.map(cell))]
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)))
  return cells.map((row) => row.map((value, column) => value.padEnd(widths[column] ?? 0)).join("  ").trimEnd()).join(
    "\n"
  )
}

export const emit = (asJson: boolean, value: unknown, human: () => string) =>
  Console.log(asJson ? JSON.stringify(value, null, 2) : human())

export const emitList = <A>(
  asJson: boolean,
  items: ReadonlyArray<A>,
  headers: ReadonlyArray<string>,
  row: (item: A) => ReadonlyArray<unknown>,
  empty: string
) => emit(asJson, items, () => items.length === 0 ? empty : table(headers, items.map(row)))

// Secrets are printed alone on the last line so `tail -n1` captures them.
export const emitSecret = (asJson: boolean, value: Record<string, unknown>, summary: string, secret: string) =>
  asJson
    ? Console.log(JSON.stringify(value, null, 2))
    : Effect.zipRight(Console.log(`${summary}\nThis secret is shown once; store it now:`), Console.log(secret))
