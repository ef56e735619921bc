// A fleet of 3 Pools, 6 accounts and 9 keys, and `rows` requests spread over the last 7 days: mostly succeeded, some
// failed with an error code, a few cancelled and a handful still in progress; each key and account in its own Pool.
// Plain SQL, so the bench (over its own connection) and test/DashboardPlans.test.ts seed the same rows.
export const seedStatements = (rows: number): ReadonlyArray<string> => [
  `INSERT INTO pools (id, slug, name) SELECT 'pool_seed' || i, 'seed-' || i, 'Seed ' || i FROM generate_series(0, 2) i`,
  `INSERT INTO accounts (id, chatgpt_account_id, email, plan, access_token_enc, refresh_token_enc, id_token_enc)
    SELECT 'acct_seed' || i, 'chatgpt-' || i, 'owner' || i || '@example.com', 'pro', 'sealed', 'sealed', 'sealed'
    FROM generate_series(0, 5) i`,
  `INSERT INTO pool_accounts (pool_id, account_id) SELECT 'pool_seed' || (i % 3), 'acct_seed' || i
    FROM generate_series(0, 5) i`,
  `INSERT INTO pool_keys (id, pool_id, name, secret_hash)
    SELECT 'key_seed' || i, 'pool_seed' || (i % 3), 'key ' || i, sha256(('seed key ' || i)::bytea)
    FROM generate_series(0, 8) i`,
  `SELECT setseed(0.16)`,
  `INSERT INTO requests (id, pool_id, key_id, account_id, route, transport, model, status, http_status, error_code,
      attempts, started_at, first_byte_at, ended_at, input_tokens, cached_input_tokens, output_tokens, total_tokens)
    SELECT 'req_seed' || lpad(i::text, 7, '0'), 'pool_seed' || (i % 3), 'key_seed' || (i % 9),
      'acct_seed' || (i % 3 + 3 * ((i / 3) % 2)),
      CASE WHEN i % 10 = 0 THEN '/v1/chat/completions' ELSE '/backend-api/codex/responses' END,
      CASE WHEN i % 7 = 0 THEN 'websocket' ELSE 'sse' END,
      (ARRAY['gpt-5.5', 'gpt-5.5-codex', 'gpt-5.4-mini'])[1 + i % 3],
      s.status,
      CASE s.status WHEN 'succeeded' THEN 200 WHEN 'failed' THEN (ARRAY[429, 502, 503, 401])[1 + i % 4] END,
      CASE WHEN s.status = 'failed' THEN (ARRAY['usage_limit_reached', 'upstream_error', 'no_account_available',
        'upstream_unauthorized'])[1 + i % 4] END,
      CASE WHEN s.status = 'failed' THEN 2 ELSE 1 END,
      t.at, t.at + interval '400 ms', CASE WHEN s.status <> 'in_progress' THEN t.at + interval '9 s' END,
      tok.input, tok.input / 2, tok.output, tok.input + tok.output
    FROM generate_series(1::bigint, ${rows}) i
    CROSS JOIN LATERAL (SELECT now() - (random() + i * 0) * interval '7 days' AS at) t
    CROSS JOIN LATERAL (SELECT CASE WHEN i % 1000 = 0 THEN 'in_progress' WHEN i % 50 = 1 THEN 'cancelled'
      WHEN i % 16 = 2 THEN 'failed' ELSE 'succeeded' END AS status) s
    CROSS JOIN LATERAL (SELECT CASE WHEN s.status = 'succeeded' THEN 2000 + (i * 7919) % 30000 END AS input,
      CASE WHEN s.status = 'succeeded' THEN 100 + (i * 104729) % 4000 END AS output) tok`,
  `ANALYZE`
]
