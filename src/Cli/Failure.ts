import { ValidationError } from "@effect/cli"
import { ConfigError, Effect, Predicate } from "effect"
import { describeConfigError } from "../Config.ts"

// Every expected failure ends the process with one readable line on stderr and exit code 1 (2 for usage errors).
export const describeFailure = (error: unknown): { readonly line: string; readonly exitCode: number } => {
  if (ValidationError.isValidationError(error)) return { line: "", exitCode: 2 }
  if (ConfigError.isConfigError(error)) {
    return { line: `invalid configuration: ${describeConfigError(error)}`, exitCode: 1 }
  }
  if (Predicate.hasProperty(error, "message") && typeof error.message === "string") {
    const cause = Predicate.hasProperty(error, "cause") && error.cause instanceof Error
      ? `: ${error.cause.message}`
      : ""
    return { line: `${error.message}${cause}`, exitCode: 1 }
  }
  return { line: String(error), exitCode: 1 }
}

// What the binary writes to stderr and exits with; the tests running commands in process read it too.
export const failureReport = (error: unknown): { readonly stderr: string; readonly exitCode: number } => {
  const { exitCode, line } = describeFailure(error)
  return { stderr: line === "" ? "" : `codex-pooler: ${line}\n`, exitCode }
}

export const reportFailure = (error: unknown) =>
  Effect.sync(() => {
    const { exitCode, stderr } = failureReport(error)
    if (stderr !== "") process.stderr.write(stderr)
    process.exitCode = exitCode
  })
