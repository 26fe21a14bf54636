// The analytics bench (`tsx bench/analytics.ts`, or `npm run bench -- --only=analytics`): on a
// database of its own, seeds 1,000,000 activity rows (100,000 users × 7 projects over 90 days),
// the users, 10,000 subscriptions snapshotted daily for 90 days, a year of daily counters and
// 100,000 webhook deliveries, all with generate_series, then times every AnalyticsQueries method
// (what /api/analytics/* runs) as the p50 of a few runs against the target (< 300 ms each).
// The activity rows go in through the trigger on activity_days that every flush goes through, so
// the rollups the overview reads (activity_last, activity_users) are filled as the hub fills them.
// It also times ActivityRecorder.record(), the one call the token and gateway paths make, and a
// flush of new sightings (the write side of the rollups).
//
// Env: BENCH_PG_URL (admin URL, default postgresql://postgres@127.0.0.1:5432/postgres),
//      BENCH_ANALYTICS_RUNS (runs per endpoint, default 5), BENCH_ANALYTICS_KEEP=1 (keep the
//      seeded database for EXPLAIN; its name is printed). On a shared box, wrap the run in
//      `flock /tmp/nexus-bench.lock`.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { openDatabase } from '../src/db/database.js';
import { createLogger } from '../src/logger.js';
import { AnalyticsQueries } from '../src/analytics/queries.js';
import { ActivityRecorder } from '../src/analytics/recorder.js';
import { addDays, isoDay } from '../src/analytics/day.js';
import { cleanUp, createBenchDatabase, makeTempDir } from './processes.js';
import { now } from './load.js';

const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const RUNS = Math.max(1, Number(process.env.BENCH_ANALYTICS_RUNS ?? 5));
const USERS = 100_000;
const PROJECTS = ['sales', 'dream-people', 'liminal', 'resonance', 'agi-safety', 'shelter', 'testing'];
const ACTIVITY_ROWS = 1_000_000;
const ACTIVITY_DAYS = 90;
const SUBSCRIPTIONS = 10_000;
const SNAPSHOT_DAYS = 90;
const DELIVERIES = 100_000;
const TARGET_MS = 300;

const log = (line: string) => process.stderr.write(`${line}\n`);

async function seed(pool: pg.Pool, today: string) {
  const started = now();
  // Users signed up over the last year, one a few minutes apart.
  await pool.query(`
    INSERT INTO users (id, email, created_at, updated_at)
    SELECT gen_random_uuid(), 'user' || g || '@bench.example', $1::date + time '12:00' - (g * interval '5 minutes'), now()
    FROM generate_series(1, $2) g`, [today, USERS]);
  await pool.query('CREATE TEMP TABLE bench_users AS SELECT row_number() OVER (ORDER BY email) - 1 AS n, id FROM users');
  await pool.query('CREATE INDEX ON bench_users (n)');
  // Row g: user g mod N, project k mod 7 and day (7u + 13k) mod 90 with k = g div N: unique.
  await pool.query(`
    INSERT INTO activity_days (day, project, user_id)
    SELECT $1::date - ((u.n * 7 + (g / $3) * 13) % $4)::int, ($5::text[])[((g / $3) % 7) + 1], u.id
    FROM generate_series(0, $2 - 1) g JOIN bench_users u ON u.n = g % $3
    ON CONFLICT DO NOTHING`, [today, ACTIVITY_ROWS, USERS, ACTIVITY_DAYS, PROJECTS]);
  // Access rows: every user in one project (what a project's figures are scoped by).
  await pool.query(`
    INSERT INTO project_access (user_id, project, role, source)
    SELECT id, ($1::text[])[(n % 7) + 1], 'user', 'bench' FROM bench_users`, [PROJECTS]);
  // 10,000 subscriptions on three plans, snapshotted daily; one in twenty changes each month.
  await pool.query(`
    INSERT INTO subscription_snapshots (day, user_id, plan, status, mrr_cents)
    SELECT $1::date - d, u.id, (ARRAY['starter', 'pro', 'team'])[(u.n % 3) + 1], 'active',
      CASE WHEN (u.n + d / 30) % 20 = 0 THEN 0 ELSE (ARRAY[900, 2900, 9900])[(u.n % 3) + 1] END
    FROM bench_users u CROSS JOIN generate_series(0, $3 - 1) d WHERE u.n < $2`, [today, SUBSCRIPTIONS, SNAPSHOT_DAYS]);
  await pool.query(`
    INSERT INTO daily_counts (day, metric, key, count)
    SELECT $1::date - d, m.metric, m.key, 1 + (d * 7 + length(m.key)) % 500
    FROM generate_series(0, 399) d CROSS JOIN (
      SELECT 'logins' AS metric, o AS key FROM unnest(ARRAY['success', 'wrong_password', 'locked', 'mfa']) o
      UNION ALL SELECT 'gateway', p || ':' || s FROM unnest($2::text[]) p, unnest(ARRAY['2xx', '4xx', '5xx']) s
      UNION ALL SELECT 'gateway_latency', p || ':' || b FROM unnest($2::text[]) p, unnest(ARRAY['5', '10', '25', '50', '100', '250', '1000', 'inf']) b) m`, [today, PROJECTS]);
  const event = (await pool.query("INSERT INTO events (id, type, data) VALUES (gen_random_uuid(), 'bench.happened', '{}') RETURNING id")).rows[0].id;
  // Hub-wide endpoints (a project's would need its oauth_clients row): deliveries to each.
  await pool.query(`
    INSERT INTO webhook_endpoints (id, url, event_types, secret_sealed)
    SELECT gen_random_uuid(), 'https://hooks.invalid/' || p, '{bench.happened}', 'x' FROM unnest($1::text[]) p`, [PROJECTS]);
  await pool.query(`
    INSERT INTO event_deliveries (id, event_id, endpoint_id, status, created_at)
    SELECT gen_random_uuid(), $1, e.id, (ARRAY['delivered', 'delivered', 'delivered', 'failed', 'pending'])[(g % 5) + 1], $3::date - (g % 90) + interval '1 hour'
    FROM generate_series(1, $2) g JOIN (SELECT id, row_number() OVER () - 1 AS n FROM webhook_endpoints) e ON e.n = g % 7`, [event, DELIVERIES, today]);
  await pool.query('ANALYZE');
  const { rows } = await pool.query(`SELECT (SELECT count(*) FROM activity_days) AS activity, (SELECT count(*) FROM activity_last) AS pairs,
    (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM subscription_snapshots) AS snapshots`);
  log(`seeded ${rows[0].activity} activity rows (${rows[0].pairs} user-project pairs), ${rows[0].users} users, ${rows[0].snapshots} snapshot rows in ${((now() - started) / 1000).toFixed(1)} s`);
}

/** The first call (cold: settled periods not yet kept) and the p50 of the next RUNS. */
async function timed(run: () => Promise<unknown>): Promise<{ first: number; p50: number }> {
  const started = now();
  await run();
  const first = now() - started;
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = now();
    await run();
    times.push(now() - started);
  }
  times.sort((a, b) => a - b);
  return { first, p50: times[Math.floor((times.length - 1) / 2)] };
}

/** ns per ActivityRecorder.record() call: a day's worth of repeat sightings, then first sightings. */
function recorderCost(pool: pg.Pool) {
  const recorder = new ActivityRecorder(pool);
  const ids = Array.from({ length: 10_000 }, () => crypto.randomUUID());
  const calls = 1_000_000;
  for (let i = 0; i < 10_000; i++) recorder.record('sales', ids[i]);
  const started = now();
  for (let i = 0; i < calls; i++) recorder.record(PROJECTS[i % 7], ids[i % 10_000]);
  return ((now() - started) * 1e6) / calls;
}

/** ms for one flush of `users` new users seen in two projects each: activity_days and both rollups. */
async function flushCost(pool: pg.Pool, users: number) {
  const recorder = new ActivityRecorder(pool);
  for (let i = 0; i < users; i++) {
    const id = crypto.randomUUID();
    recorder.record(PROJECTS[i % 7], id);
    recorder.record(PROJECTS[(i + 1) % 7], id);
  }
  const started = now();
  await recorder.flush();
  return now() - started;
}

export async function analyticsBench(): Promise<{ text: string; failures: string[] }> {
  const keep = process.env.BENCH_ANALYTICS_KEEP === '1';
  const databaseUrl = await createBenchDatabase(PG_ADMIN_URL, 'nexus_bench_analytics', { keep });
  if (keep) log(`keeping database ${new URL(databaseUrl).pathname.slice(1)}`);
  const dataDir = await makeTempDir(path.join(os.tmpdir(), 'nexus-bench-analytics-'));
  const db = await openDatabase({ databaseUrl, dataDir, embeddedPgPort: 0 }, createLogger('warn', 2));
  try {
    const today = isoDay(new Date());
    await seed(db.pool, today);
    const queries = new AnalyticsQueries(db.pool);
    const month = { from: addDays(today, -29), to: today };
    const cases: Array<[string, () => Promise<unknown>]> = [
      ['overview', () => queries.overview()],
      ['overview?project=sales', () => queries.overview({ project: 'sales' })],
      ['activity (90 days, by day)', () => queries.activity({ from: addDays(today, -89), to: today, interval: 'day' })],
      ['activity (400 days, by week)', () => queries.activity({ from: addDays(today, -399), to: today, interval: 'week' })],
      ['activity?project=sales (90 days)', () => queries.activity({ from: addDays(today, -89), to: today, interval: 'day', project: 'sales' })],
      ['cross-project', () => queries.crossProject()],
      ['retention (a year of cohorts)', () => queries.retention({ from: addDays(today, -364), to: today })],
      ['revenue (30 days, by day)', () => queries.revenue({ ...month, interval: 'day' })],
      ['revenue (90 days, by month)', () => queries.revenue({ from: addDays(today, -89), to: today, interval: 'month' })],
      ['logins (30 days)', () => queries.logins(month)],
      ['gateway (30 days)', () => queries.gateway(month)],
      ['webhooks (30 days)', () => queries.webhooks(month)],
    ];
    const lines = [`analytics endpoints (first call, then p50 of ${RUNS} runs; target < ${TARGET_MS} ms each, on the p50)`];
    const failures: string[] = [];
    for (const [label, run] of cases) {
      const { first, p50 } = await timed(run);
      const ok = p50 < TARGET_MS;
      if (!ok) failures.push(`analytics ${label}: ${p50.toFixed(0)} ms`);
      lines.push(`  ${label.padEnd(36)} first ${first.toFixed(1).padStart(8)} ms   p50 ${p50.toFixed(1).padStart(8)} ms  ${ok ? 'ok' : 'MISSED'}`);
    }
    const ns = recorderCost(db.pool);
    lines.push(`  ActivityRecorder.record() on the token/gateway path: ${ns.toFixed(0)} ns per call (in memory; one batched INSERT per flush)`);
    const flushUsers = 10_000;
    const ms = await flushCost(db.pool, flushUsers);
    lines.push(`  ActivityRecorder.flush() of ${(2 * flushUsers).toLocaleString('en')} new sightings (${flushUsers.toLocaleString('en')} users × 2 projects, rollups included): ${ms.toFixed(0)} ms`);
    return { text: lines.join('\n'), failures };
  } finally {
    await db.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { text, failures } = await analyticsBench().finally(cleanUp);
  process.stdout.write(`${text}\n`);
  if (failures.length && process.argv.includes('--strict')) process.exitCode = 2;
}
