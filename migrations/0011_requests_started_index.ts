import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// The dashboard's newest requests, its usage, charts and errors, and the request log unfiltered or by status or model
// all read `requests` by time across Pools: without this index each of them scanned the whole table
// (test/DashboardPlans.test.ts).
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX requests_started_idx ON requests (started_at DESC)`
})
