import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// A change to what routing reads — a Pool's strategy or members, an account's status or refresh lease, a rest or a
// circuit — is announced on the `codex_pooler_routing` channel, so every instance's routing view reloads within
// moments. Columns written on every request or poll (last_used_at, usage_polled_at, quota) announce nothing: the
// periodic reload carries them. Row triggers, so a statement that changed nothing announces nothing (PostgreSQL folds a
// transaction's identical notices into one).
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE FUNCTION codex_pooler_routing_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('codex_pooler_routing', TG_TABLE_NAME);
      RETURN NULL;
    END $$`
  const announce = (table: string, updates: string) =>
    sql.unsafe(`
      CREATE TRIGGER ${table}_routing_changed
      AFTER INSERT OR DELETE OR UPDATE OF ${updates} ON ${table}
      FOR EACH ROW EXECUTE FUNCTION codex_pooler_routing_changed()`)
  yield* announce("pools", "strategy")
  yield* announce("pool_accounts", "pool_id, account_id")
  yield* announce("accounts", "status, refresh_lease_until")
  yield* announce("account_health", "cooldown_until, cooldown_reason, circuit_state, circuit_opened_at")
})
