import { Schema } from "effect"
import { defined } from "../CodexBody.ts"
import { optional } from "../Fields.ts"

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export const Tool = Schema.Union(
  Schema.Struct({
    type: Schema.Literal("function"),
    function: Schema.Struct({
      name: Schema.String,
      description: optional(Schema.String),
      parameters: optional(Json),
      strict: optional(Schema.Boolean)
    })
  }),
  Schema.Struct({
    type: Schema.Literal("custom"),
    custom: Schema.Struct({ name: Schema.String, description: optional(Schema.String), format: optional(Json) })
  })
)

export const ToolChoice = Schema.Union(
  Schema.Literal("none", "auto", "required"),
  Schema.Struct({ type: Schema.Literal("function"), function: Schema.Struct({ name: Schema.String }) }),
  Schema.Struct({ type: Schema.Literal("custom"), custom: Schema.Struct({ name: Schema.String }) })
)

export const ResponseFormat = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text", "json_object") }),
  Schema.Struct({
    type: Schema.Literal("json_schema"),
    json_schema: Schema.Struct({
      name: Schema.String,
      description: optional(Schema.String),
      schema: optional(Json),
      strict: optional(Schema.Boolean)
    })
  })
)

// Chat nests a tool's fields under its type; Responses has them flat. Defaults differ: Responses makes a function
// strict and its parameters required unless told, Chat neither, so both are written out.
export const responsesTool = (tool: typeof Tool.Type) =>
  tool.type === "function"
    ? {
      type: "function",
      name: tool.function.name,
      ...defined({ description: tool.function.description }),
      parameters: tool.function.parameters ?? { type: "object", properties: {} },
      strict: tool.function.strict ?? false
    }
    : {
      type: "custom",
      name: tool.custom.name,
      ...defined({ description: tool.custom.description, format: tool.custom.format })
    }

export const responsesToolChoice = (choice: typeof ToolChoice.Type) =>
  typeof choice === "string"
    ? choice
    : { type: choice.type, name: choice.type === "function" ? choice.function.name : choice.custom.name }

export const textFormat = (format: typeof ResponseFormat.Type) =>
  format.type === "json_schema"
    ? {
      type: "json_schema",
      name: format.json_schema.name,
      ...defined({
        description: format.json_schema.description,
        schema: format.json_schema.schema,
        strict: format.json_schema.strict
      })
    }
    : { type: format.type }
