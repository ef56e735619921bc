import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { Actor } from "./Domain/Actor.ts"

export interface AuditEntry {
  readonly action: string
  readonly targetKind: string
  readonly targetId: string | null
  readonly details?: Record<string, string | number | boolean | null>
}

export class AuditLog extends Effect.Service<AuditLog>()("Gateway/AuditLog", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const record = Effect.fn("AuditLog.record")(function*(entry: AuditEntry) {
      const actor = yield* Actor
      yield* sql`
        INSERT INTO audit_log (actor_kind, actor_id, action, target_kind, target_id, details)
        VALUES (${actor.kind}, ${actor.id}, ${entry.action}, ${entry.targetKind}, ${entry.targetId},
          ${JSON.stringify(entry.details ?? {})}::jsonb)`.pipe(Effect.orDie)
    })
    return { record } as const
  })
}) {}
