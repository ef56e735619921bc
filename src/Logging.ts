import { Cause, HashMap, Inspectable, Logger, Redacted } from "effect"
import type { LogFormat } from "./Config.ts"

const marker = "[redacted]"

// Applied in order; the token-field patterns come first so a JWT or `rt_` value is replaced whole, with its key kept.
const secrets: ReadonlyArray<readonly [RegExp, string]> = [
  [/(\\?"(?:refresh|access|id)_token\\?"\s*:\s*\\?")[^"\\]+/g, `$1${marker}`],
  [/\b((?:refresh|access|id)_token=)[^&\s"'\\]+/g, `$1${marker}`],
  [/\b(Bearer[ \t]+)[^\s"'\\<>]+/gi, `$1${marker}`],
  [/\beyJ[\w-]*\.[\w-]+\.[\w-]*/g, marker],
  [/\bcp[ko]_[\w-]+/g, marker],
  [/\brt_[\w.-]+/g, marker]
]

export const redactText = (text: string): string =>
  secrets.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text)

const tokenField = /^(?:refresh|access|id)_?token$/i

// Turns a logged value into plain JSON-like data with every secret-looking string replaced.
export const redact = (value: unknown, ancestors: ReadonlyArray<object> = []): unknown => {
  if (typeof value === "string") return redactText(value)
  if (typeof value === "bigint" || typeof value === "symbol" || typeof value === "function") return String(value)
  if (typeof value !== "object" || value === null) return value
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
  if (Redacted.isRedacted(value)) return marker
  if (ancestors.includes(value)) return "[Circular]"
  const inside = [...ancestors, value]
  if (Array.isArray(value)) return value.map((item: unknown) => redact(item, inside))
  const json = Inspectable.toJSON(value)
  if (json !== value) return redact(json, inside)
  const fields: object = value instanceof Error ? { ...value, name: value.name, message: value.message } : value
  const entries: ReadonlyArray<[string, unknown]> = Object.entries(fields)
  return Object.fromEntries(entries.map(([key, field]) => [key, tokenField.test(key) ? marker : redact(field, inside)]))
}

// The cause is rendered here, redacted, and passed on as the `cause` annotation so every format prints the safe text.
const redactOptions = (options: Logger.Logger.Options<unknown>): Logger.Logger.Options<unknown> => {
  const annotations = HashMap.map(options.annotations, (value) => redact(value))
  return {
    ...options,
    message: redact(options.message),
    cause: Cause.empty,
    annotations: Cause.isEmpty(options.cause)
      ? annotations
      : HashMap.set(annotations, "cause", redactText(Cause.pretty(options.cause, { renderErrorCause: true })))
  }
}

const jsonLine = Logger.map(Logger.structuredLogger, (log) => {
  const { annotations, fiberId, logLevel, message, spans, timestamp } = log
  const core = { timestamp, level: logLevel, fiberId, message }
  // Core fields lead the line and win over an annotation of the same name.
  return JSON.stringify({ ...core, ...(Object.keys(spans).length > 0 ? { spans } : {}), ...annotations, ...core })
})

export const lineLogger = (format: Exclude<LogFormat, "pretty">, write: (line: string) => void) =>
  Logger.mapInputOptions(Logger.map(format === "json" ? jsonLine : Logger.logfmtLogger, write), redactOptions)

const prettyLogger = () =>
  Logger.mapInputOptions(Logger.prettyLogger({ stderr: true, colors: process.stderr.isTTY === true }), redactOptions)

// stdout carries only what a command prints (tables, --json, secrets shown once); every log line goes to stderr.
export const layer = (format: LogFormat) =>
  Logger.replace(
    Logger.defaultLogger,
    format === "pretty" ? prettyLogger() : lineLogger(format, (line) => process.stderr.write(`${line}\n`))
  )
