import { SqlClient, SqlSchema } from "@effect/sql"
import { Effect, Schema } from "effect"
import { Pool, Strategy } from "../Domain/Models.ts"

export const KeyLimits = Schema.Struct({
  requestsPerMinute: Schema.NullOr(Schema.Number),
  tokensPerDay: Schema.NullOr(Schema.Number),
  maxConcurrent: Schema.NullOr(Schema.Number),
  allowedModels: Schema.NullOr(Schema.Array(Schema.String))
})
export type KeyLimits = typeof KeyLimits.Type

const Id = Schema.Struct({ id: Schema.String })

// The few writes only the operator MCP makes: a Pool's strategy, a key's limits, an account's cooldown.
export class ControlRepo extends Effect.Service<ControlRepo>()("Gateway/Mcp/ControlRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const setStrategy = SqlSchema.findOne({
      Request: Schema.Struct({ pool: Schema.String, strategy: Strategy }),
      Result: Pool,
      execute: ({ pool, strategy }) =>
        sql`UPDATE pools SET strategy = ${strategy}, updated_at = now() WHERE slug = ${pool} OR id = ${pool} RETURNING *`
    })

    // Models go in as JSON so one statement works on PostgreSQL and PGlite alike.
    const setKeyLimits = SqlSchema.findOne({
      Request: Schema.Struct({ id: Schema.String, ...KeyLimits.fields }),
      Result: Id,
      execute: (key) =>
        sql`UPDATE pool_keys SET requests_per_minute = ${key.requestsPerMinute}, tokens_per_day = ${key.tokensPerDay},
            max_concurrent = ${key.maxConcurrent},
            allowed_models = CASE WHEN ${key.allowedModels === null}::boolean THEN NULL
              ELSE array(SELECT jsonb_array_elements_text(${JSON.stringify(key.allowedModels ?? [])}::jsonb)) END
          WHERE id = ${key.id} RETURNING id`
    })

    const clearCooldown = SqlSchema.findAll({
      Request: Schema.String,
      Result: Id,
      execute: (accountId) =>
        sql`UPDATE account_health SET cooldown_until = NULL, cooldown_reason = NULL, circuit_state = 'closed',
            circuit_opened_at = NULL, consecutive_failures = 0, updated_at = now()
          WHERE account_id = ${accountId} RETURNING account_id AS id`
    })

    return {
      setStrategy: (pool: string, strategy: Strategy) => setStrategy({ pool, strategy }).pipe(Effect.orDie),
      setKeyLimits: (id: string, limits: KeyLimits) => setKeyLimits({ id, ...limits }).pipe(Effect.orDie),
      clearCooldown: (accountId: string) => clearCooldown(accountId).pipe(Effect.orDie)
    } as const
  })
}) {}
