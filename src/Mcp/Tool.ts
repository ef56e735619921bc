import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { Cause, Effect, JSONSchema, ParseResult, Schema } from "effect"
import { Actor, type ActorShape } from "../Domain/Actor.ts"
import type { OperatorScope } from "../Domain/Models.ts"

export interface ObjectJsonSchema {
  readonly [key: string]: unknown
  readonly type: "object"
}

// What the session serves: the schemas as JSON and a call that never fails (failures become tool errors).
export interface Tool {
  readonly name: string
  readonly description: string
  readonly scope: OperatorScope
  readonly inputSchema: ObjectJsonSchema
  readonly outputSchema: ObjectJsonSchema
  readonly call: (args: unknown, actor: ActorShape) => Effect.Effect<CallToolResult>
}

export interface ToolSpec<I, II, O, OI extends Readonly<Record<string, unknown>>> {
  readonly name: string
  readonly description: string
  readonly scope: OperatorScope
  readonly input: Schema.Schema<I, II>
  readonly output: Schema.Schema<O, OI>
  readonly run: (input: I) => Effect.Effect<O, { readonly message: string }, Actor>
}

// A Struct with no fields becomes `anyOf: [object, array]`; MCP wants an object schema even then.
const objectSchema = <A, I>(schema: Schema.Schema<A, I>): ObjectJsonSchema => {
  const { $schema: _, ...json } = JSONSchema.make(schema)
  return "properties" in json
    ? { ...json, type: "object" }
    : { type: "object", properties: {}, additionalProperties: false }
}

export const toolError = (message: string): CallToolResult => ({
  isError: true,
  content: [{ type: "text", text: message }]
})

export const defineTool = <I, II, O, OI extends Readonly<Record<string, unknown>>>(
  spec: ToolSpec<I, II, O, OI>
): Tool => {
  const decode = Schema.decodeUnknown(spec.input, { onExcessProperty: "error" })
  const encode = Schema.encode(spec.output)
  return {
    name: spec.name,
    description: spec.description,
    scope: spec.scope,
    inputSchema: objectSchema(spec.input),
    outputSchema: objectSchema(spec.output),
    call: (args, actor) =>
      decode(args ?? {}).pipe(
        Effect.mapError((error) => ({
          message: `invalid arguments: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
        })),
        Effect.flatMap(spec.run),
        Effect.flatMap((output) => Effect.orDie(encode(output))),
        Effect.map((structured): CallToolResult => ({
          content: [{ type: "text", text: JSON.stringify(structured, null, 2) }],
          structuredContent: { ...structured }
        })),
        Effect.catchAll((error) => Effect.succeed(toolError(error.message))),
        // The edge of a tool call: an unexpected failure is logged and answered as a tool error, never a 5xx.
        Effect.catchAllCause((cause) =>
          Effect.logError("mcp tool failed", Cause.pretty(cause)).pipe(
            Effect.as(toolError(`${spec.name} failed unexpectedly`))
          )
        ),
        Effect.provideService(Actor, actor),
        Effect.withSpan(`Mcp.${spec.name}`)
      )
  }
}

// "jane.doe@example.com" → "j***@example.com": enough to tell accounts apart, not enough to reuse.
export const maskEmail = (email: string | null): string | null => {
  if (email === null) return null
  const at = email.lastIndexOf("@")
  return at <= 0 ? "***" : `${email[0]}***${email.slice(at)}`
}

export const Timestamp = Schema.NullOr(Schema.Date)
