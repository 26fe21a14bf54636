// /api/analytics/*: every figure checked exactly against a known data set (activity on known
// days, sign-ups, snapshots, counters, deliveries), JSON and CSV alike; who may see what.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { adminToken } from '../support/admin-token.js';
import { authorize, Browser } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { ProjectAccess } from '../../src/accounts/access.js';
import { analytics, csvRows, daysAgo, parseCsv, today } from './support.js';

const PASSWORD = 'correct horse battery';
const CONSOLE_CALLBACK = 'http://localhost:3020/auth/callback';

// A console token for a user who is not a hub administrator (the console is a granted project).
async function consoleToken(t: TestHub, email: string, grants: Array<[string, 'admin' | 'user']>) {
  const user = await t.hub.users.create({ email, password: PASSWORD, fullName: email });
  const access = new ProjectAccess(t.hub.db.prisma);
  for (const [project, role] of grants) await access.grant(user.id, project, role);
  const signedIn = await authorize(new Browser(t.url), { clientId: 'nexus-console', redirectUri: CONSOLE_CALLBACK, scope: 'openid admin', email, password: PASSWORD });
  expect(signedIn.code, signedIn.body.slice(0, 300)).toBeTruthy();
  const tokens = await postForm(t, '/token', 'nexus-console', {
    grant_type: 'authorization_code', code: signedIn.code!, code_verifier: signedIn.verifier, redirect_uri: CONSOLE_CALLBACK,
  });
  expect(tokens.status, tokens.text).toBe(200);
  return { id: user.id, token: tokens.body.access_token };
}

describe('analytics figures', () => {
  let t: TestHub;
  let root: string;
  let projectAdmin: { id: string; token: string };
  let nobody: { id: string; token: string };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestHub();
    // Three users signed up today and active today in nexus-console (their tokens), 3 sign-ins.
    root = await adminToken(t);
    projectAdmin = await consoleToken(t, 'sales-admin@example.com', [['nexus-console', 'user'], ['sales', 'admin']]);
    nobody = await consoleToken(t, 'nobody@example.com', [['nexus-console', 'user']]);
    await t.hub.recording.flush();

    const { pool } = t.hub.db;
    const T = today();
    // a..e relative to today; f..h in past months (the cohorts).
    const created: Record<string, string> = {
      a: `${daysAgo(45)} 12:00`, b: `${daysAgo(10)} 12:00`, c: `${daysAgo(3)} 12:00`, d: `${T} 00:30`, e: `${daysAgo(1)} 12:00`,
      f: '2026-07-10 09:00', g: '2026-07-20 09:00', h: '2026-08-05 09:00',
    };
    for (const [name, at] of Object.entries(created)) {
      const { rows } = await pool.query(
        'INSERT INTO users (id, email, created_at, updated_at) VALUES (gen_random_uuid(), $1, $2, now()) RETURNING id', [`${name}@fixture.example`, at]);
      ids[name] = rows[0].id;
    }
    for (const name of ['a', 'b', 'd']) await new ProjectAccess(t.hub.db.prisma).grant(ids[name], 'sales', 'user');
    const activity: Array<[string, string, string]> = [
      ['a', 'sales', T], ['a', 'resonance', T], ['a', 'sales', daysAgo(5)], ['a', 'shelter', daysAgo(20)], ['a', 'sales', daysAgo(40)],
      ['b', 'sales', daysAgo(2)], ['b', 'sales', daysAgo(10)],
      ['c', 'resonance', daysAgo(3)], ['c', 'shelter', daysAgo(3)],
      ['d', 'sales', T],
      ['f', 'sales', '2026-07-15'], ['f', 'sales', '2026-08-03'], ['f', 'resonance', '2026-09-20'],
      ['g', 'sales', '2026-08-10'],
      ['h', 'sales', '2026-08-05'], ['h', 'sales', '2026-10-01'],
    ];
    await pool.query('INSERT INTO activity_days (day, project, user_id) SELECT * FROM unnest($1::date[], $2::text[], $3::uuid[])',
      [activity.map((r) => r[2]), activity.map((r) => r[1]), activity.map((r) => ids[r[0]])]);
    // Snapshots: D2 → D1: b unchanged, a +2000 (expansion), c 2900 → 0 (churn), d new 900;
    // D1 → T: a -2000 (contraction), e new 4900, c gone (already 0).
    await pool.query('DELETE FROM subscription_snapshots');
    const snapshots: Array<[string, string, string, number, string]> = [
      [daysAgo(2), 'a', 'pro', 2900, 'active'], [daysAgo(2), 'b', 'starter', 900, 'active'], [daysAgo(2), 'c', 'pro', 2900, 'active'],
      [daysAgo(1), 'a', 'pro', 4900, 'active'], [daysAgo(1), 'b', 'starter', 900, 'active'], [daysAgo(1), 'c', 'pro', 0, 'canceled'], [daysAgo(1), 'd', 'starter', 900, 'active'],
      [T, 'a', 'pro', 2900, 'active'], [T, 'b', 'starter', 900, 'active'], [T, 'd', 'starter', 900, 'active'], [T, 'e', 'pro', 4900, 'active'],
    ];
    await pool.query('INSERT INTO subscription_snapshots (day, user_id, plan, mrr_cents, status) SELECT * FROM unnest($1::date[], $2::uuid[], $3::text[], $4::int[], $5::text[])',
      [snapshots.map((s) => s[0]), snapshots.map((s) => ids[s[1]]), snapshots.map((s) => s[2]), snapshots.map((s) => s[3]), snapshots.map((s) => s[4])]);
    const counts: Array<[string, string, string, number]> = [
      [daysAgo(1), 'logins', 'wrong_password', 3], [daysAgo(1), 'logins', 'locked', 1], [daysAgo(1), 'logins', 'success', 5],
      [daysAgo(1), 'gateway', 'sales:2xx', 90], [daysAgo(1), 'gateway', 'sales:5xx', 10], [T, 'gateway', 'resonance:2xx', 5],
      [daysAgo(1), 'gateway_latency', 'sales:10', 50], [daysAgo(1), 'gateway_latency', 'sales:50', 40], [daysAgo(1), 'gateway_latency', 'sales:1000', 10],
      [T, 'gateway_latency', 'resonance:5', 5],
    ];
    await pool.query('INSERT INTO daily_counts (day, metric, key, count) SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::bigint[])',
      [counts.map((c) => c[0]), counts.map((c) => c[1]), counts.map((c) => c[2]), counts.map((c) => c[3])]);
    // Deliveries: yesterday 2 delivered + 1 failed to a sales endpoint; today 1 delivered to a hub-wide one.
    const event = (await pool.query("INSERT INTO events (id, type, data) VALUES (gen_random_uuid(), 'fixture.happened', '{}') RETURNING id")).rows[0].id;
    const endpoint = async (project: string | null) => (await pool.query(
      "INSERT INTO webhook_endpoints (id, project, url, event_types, secret_sealed) VALUES (gen_random_uuid(), $1, 'https://hooks.invalid/x', '{never.happens}', 'x') RETURNING id", [project])).rows[0].id;
    const sales = await endpoint('sales');
    const hubWide = await endpoint(null);
    for (const [endpointId, status, day] of [[sales, 'delivered', daysAgo(1)], [sales, 'delivered', daysAgo(1)], [sales, 'failed', daysAgo(1)], [hubWide, 'delivered', T]]) {
      await pool.query("INSERT INTO event_deliveries (id, event_id, endpoint_id, status, created_at) VALUES (gen_random_uuid(), $1, $2, $3, $4::date + interval '1 hour')", [event, endpointId, status, day]);
    }
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('overview: users, new with change, DAU/WAU/MAU overall and per project, new vs returning, MRR, KPI targets', async () => {
    const { status, body } = await analytics(t, root, 'overview');
    expect(status).toBe(200);
    expect(body).toEqual({
      today: today(),
      users: {
        total: 11,
        newToday: { current: 4, previous: 1, change: 3, changeShare: 3 },
        new7d: { current: 6, previous: 1, change: 5, changeShare: 5 },
        new30d: { current: 7, previous: 1, change: 6, changeShare: 6 },
      },
      actives: { dau: { total: 5, new: 4, returning: 1 }, wau: { total: 7, new: 5, returning: 2 }, mau: { total: 7, new: 6, returning: 1 } },
      projects: [
        { project: 'nexus-console', dau: 3, wau: 3, mau: 3 },
        { project: 'resonance', dau: 1, wau: 2, mau: 2 },
        { project: 'sales', dau: 2, wau: 3, mau: 3 },
        { project: 'shelter', dau: 0, wau: 1, mau: 2 },
      ],
      revenue: { snapshotDay: today(), payingUsers: 4, mrrCents: 9600 },
      kpis: {
        crossProjectShare: { actual: 0.2857, target: 0.3 },
        monthlyActiveShare: { actual: 0.6364, target: 0.6 },
        month1: { signups: { actual: 7, target: 100 }, paid: { actual: 4, target: 5 }, mrrCents: { actual: 9600, target: 24_500 } },
      },
    });
  });

  it("overview of one project: its users and actives only, for its admin as for the hub's", async () => {
    const expected = {
      today: today(),
      project: 'sales',
      users: {
        total: 4,
        newToday: { current: 2, previous: 0, change: 2, changeShare: null },
        new7d: { current: 2, previous: 1, change: 1, changeShare: 1 },
        new30d: { current: 3, previous: 1, change: 2, changeShare: 2 },
      },
      actives: { dau: { total: 2, new: 1, returning: 1 }, wau: { total: 3, new: 1, returning: 2 }, mau: { total: 3, new: 2, returning: 1 } },
      projects: [{ project: 'sales', dau: 2, wau: 3, mau: 3 }],
      revenue: { snapshotDay: today(), payingUsers: 3, mrrCents: 4700 },
      kpis: {
        crossProjectShare: { actual: 0.3333, target: 0.3 },
        monthlyActiveShare: { actual: 0.75, target: 0.6 },
        month1: { signups: { actual: 3, target: 100 }, paid: { actual: 3, target: 5 }, mrrCents: { actual: 4700, target: 24_500 } },
      },
    };
    expect((await analytics(t, root, 'overview?project=sales')).body).toEqual(expected);
    const own = await analytics(t, projectAdmin.token, 'overview?project=sales');
    expect(own.status).toBe(200);
    expect(own.body).toEqual(expected);
  });

  it('activity: actives and new users per day, per week, for a project', async () => {
    const daily = await analytics(t, root, `activity?from=${daysAgo(6)}&to=${today()}&interval=day`);
    expect(daily.status).toBe(200);
    expect(daily.body.rows).toEqual([
      { period: daysAgo(6), actives: 0, newUsers: 0 },
      { period: daysAgo(5), actives: 1, newUsers: 0 },
      { period: daysAgo(4), actives: 0, newUsers: 0 },
      { period: daysAgo(3), actives: 1, newUsers: 1 },
      { period: daysAgo(2), actives: 1, newUsers: 0 },
      { period: daysAgo(1), actives: 0, newUsers: 1 },
      { period: today(), actives: 5, newUsers: 4 },
    ]);
    const sales = await analytics(t, projectAdmin.token, `activity?from=${daysAgo(6)}&to=${today()}&project=sales`);
    expect(sales.body.rows.filter((row: { actives: number; newUsers: number }) => row.actives || row.newUsers)).toEqual([
      { period: daysAgo(5), actives: 1, newUsers: 0 },
      { period: daysAgo(2), actives: 1, newUsers: 0 },
      { period: today(), actives: 2, newUsers: 2 },
    ]);
    // The cohort months: f and g in July, h in August; distinct users per month.
    const monthly = await analytics(t, root, 'activity?from=2026-07-01&to=2026-09-30&interval=month');
    expect(monthly.body.rows).toEqual([
      { period: '2026-07-01', actives: 1, newUsers: 2 },
      { period: '2026-08-01', actives: 3, newUsers: 1 },
      { period: '2026-09-01', actives: 1, newUsers: 0 },
    ]);
    expect((await analytics(t, root, 'activity?from=2026-07-01&to=2026-09-30&interval=month')).body.rows).toEqual(monthly.body.rows); // now kept
    const weekly = await analytics(t, root, 'activity?from=2026-08-03&to=2026-08-16&interval=week');
    expect(weekly.body.rows).toEqual([
      { period: '2026-08-03', actives: 2, newUsers: 1 },
      { period: '2026-08-10', actives: 1, newUsers: 0 },
    ]);
  });

  it('cross-project: the share of monthly actives in 2+ projects, and the pair overlap', async () => {
    const { body } = await analytics(t, root, 'cross-project');
    expect(body).toEqual({
      from: daysAgo(29), to: today(), monthlyActives: 7, multiProjectActives: 2, share: 0.2857, target: 0.3,
      rows: [
        { projectA: 'resonance', projectB: 'sales', users: 1 },
        { projectA: 'resonance', projectB: 'shelter', users: 2 },
        { projectA: 'sales', projectB: 'shelter', users: 1 },
      ],
    });
    // A project's admin sees their project's actives, and nothing of the other projects.
    const own = await analytics(t, projectAdmin.token, 'cross-project?project=sales');
    expect(own.body).toMatchObject({ project: 'sales', monthlyActives: 3, multiProjectActives: 1, share: 0.3333, rows: [] });
  });

  it('retention: monthly cohorts followed month by month up to the current one, the same when kept', async () => {
    // Every month from the cohort's to the current one; the non-zero cells of the fixture.
    const active: Record<string, number> = { '2026-07-01:0': 1, '2026-07-01:1': 2, '2026-07-01:2': 1, '2026-08-01:0': 1, '2026-08-01:2': 1 };
    const current = today().slice(0, 7);
    const expected = [];
    for (const [cohort, size] of [['2026-07-01', 2], ['2026-08-01', 1]] as const) {
      for (let offset = 0, month = new Date(`${cohort}T00:00:00Z`); month.toISOString().slice(0, 7) <= current; offset++, month.setUTCMonth(month.getUTCMonth() + 1)) {
        const count = active[`${cohort}:${offset}`] ?? 0;
        expected.push({ cohort, size, monthOffset: offset, active: count, share: count / size });
      }
    }
    const first = await analytics(t, root, 'retention?from=2026-07-01&to=2026-09-30');
    expect(first.body.rows).toEqual(expected);
    // The settled months were kept in daily_counts: the second answer reads them.
    const kept = await t.hub.db.pool.query("SELECT count(*)::int AS n FROM daily_counts WHERE metric = 'retention'");
    expect(kept.rows[0].n).toBeGreaterThan(0);
    expect((await analytics(t, root, 'retention?from=2026-07-01&to=2026-09-30')).body.rows).toEqual(expected);
    // A project's cohorts: its users' activity in it (f, g and h have no sales access).
    expect((await analytics(t, projectAdmin.token, 'retention?from=2026-07-01&to=2026-09-30&project=sales')).body.rows).toEqual([]);
  });

  it('revenue: MRR by plan and total, new / expansion / contraction / churned from consecutive snapshots', async () => {
    const { body } = await analytics(t, root, `revenue?from=${daysAgo(1)}&to=${today()}`);
    expect(body.plans).toEqual(['pro', 'starter']);
    expect(body.rows).toEqual([
      { period: daysAgo(1), mrrCents: 6700, payingUsers: 3, newCents: 900, expansionCents: 2000, contractionCents: 0, churnedCents: 2900, 'plan:pro': 4900, 'plan:starter': 1800 },
      { period: today(), mrrCents: 9600, payingUsers: 4, newCents: 4900, expansionCents: 0, contractionCents: 2000, churnedCents: 0, 'plan:pro': 7800, 'plan:starter': 1800 },
    ]);
    const sales = await analytics(t, projectAdmin.token, `revenue?from=${today()}&to=${today()}&project=sales`);
    expect(sales.body.rows).toEqual([
      { period: today(), mrrCents: 4700, payingUsers: 3, newCents: 0, expansionCents: 0, contractionCents: 2000, churnedCents: 0, 'plan:pro': 2900, 'plan:starter': 1800 },
    ]);
  });

  it('logins by outcome: the fixture, and the real sign-ins of this test counted today', async () => {
    const { body } = await analytics(t, root, `logins?from=${daysAgo(1)}&to=${today()}`);
    expect(body).toEqual({
      from: daysAgo(1), to: today(), keys: ['locked', 'success', 'wrong_password'],
      totals: { locked: 1, success: 8, wrong_password: 3 },
      rows: [{ day: daysAgo(1), locked: 1, success: 5, wrong_password: 3 }, { day: today(), locked: 0, success: 3, wrong_password: 0 }],
    });
    const console = await analytics(t, root, `logins?from=${today()}&to=${today()}&project=nexus-console`);
    expect(console.body.rows).toEqual([{ day: today(), success: 3 }]);
  });

  it('gateway: requests by status class and latency percentiles, overall and per project', async () => {
    const { body } = await analytics(t, root, `gateway?from=${daysAgo(1)}&to=${today()}`);
    expect(body).toEqual({
      from: daysAgo(1), to: today(), keys: ['2xx', '5xx'], totals: { '2xx': 95, '5xx': 10 },
      rows: [{ day: daysAgo(1), '2xx': 90, '5xx': 10 }, { day: today(), '2xx': 5, '5xx': 0 }],
      latencyMs: { count: 105, p50: 10, p90: 50, p95: 1000, p99: 1000 },
    });
    const sales = await analytics(t, projectAdmin.token, `gateway?from=${daysAgo(1)}&to=${today()}&project=sales`);
    expect(sales.body.totals).toEqual({ '2xx': 90, '5xx': 10 });
    expect(sales.body.latencyMs).toEqual({ count: 100, p50: 10, p90: 50, p95: 1000, p99: 1000 });
  });

  it('webhooks: endpoint deliveries by outcome, overall and per project', async () => {
    const { body } = await analytics(t, root, `webhooks?from=${daysAgo(1)}&to=${today()}`);
    expect(body.rows).toEqual([{ day: daysAgo(1), delivered: 2, failed: 1 }, { day: today(), delivered: 1, failed: 0 }]);
    const sales = await analytics(t, projectAdmin.token, `webhooks?from=${daysAgo(1)}&to=${today()}&project=sales`);
    expect(sales.body.totals).toEqual({ delivered: 2, failed: 1 });
  });

  it('every endpoint answers CSV (RFC 4180, text/csv, attachment) with the JSON figures', async () => {
    const range = `from=${daysAgo(6)}&to=${today()}`;
    for (const path of [`activity?${range}`, 'cross-project?x=1', 'retention?from=2026-07-01&to=2026-09-30', `revenue?${range}`, `logins?${range}`, `gateway?${range}`, `webhooks?${range}`]) {
      const json = await analytics(t, root, path);
      const csv = await analytics(t, root, `${path}&format=csv`);
      expect(csv.status, path).toBe(200);
      expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="nexus-[a-z-]+\.csv"$/);
      expect(csvRows(csv.text), path).toEqual(json.body.rows);
    }
    // The overview has no rows: one line per figure, its dotted path and value.
    const overview = await analytics(t, root, 'overview');
    const lines = parseCsv((await analytics(t, root, 'overview?format=csv')).text);
    expect(lines[0]).toEqual(['figure', 'value']);
    const figures = Object.fromEntries(lines.slice(1));
    expect(figures['users.total']).toBe(String(overview.body.users.total));
    expect(figures['actives.mau.returning']).toBe('1');
    expect(figures['projects[2].project']).toBe('sales');
    expect(figures['kpis.month1.mrrCents.target']).toBe('24500');
    expect(lines).toHaveLength(1 + 52);
  });

  it('who may see what: no token 401, non-admins 403, project admins only their project', async () => {
    expect((await analytics(t, undefined, 'overview')).status).toBe(401);
    expect((await analytics(t, 'not-a-token', 'overview')).status).toBe(401);
    for (const path of ['overview', 'overview?project=sales', 'logins?project=sales']) {
      const refused = await analytics(t, nobody.token, path);
      expect(refused.status, path).toBe(403);
      expect(refused.body.error).toBe('insufficient_role');
    }
    for (const path of ['overview', 'revenue', 'overview?project=resonance', 'webhooks?project=shelter']) {
      expect((await analytics(t, projectAdmin.token, path)).status, path).toBe(403);
    }
    expect((await analytics(t, root, 'overview?project=no-such-project')).status).toBe(404);
    expect((await analytics(t, root, 'no-such-endpoint')).status).toBe(404);
  });

  it('bad parameters are a 400 JSON error, never 5xx', async () => {
    const cases = [
      'activity?from=2026-13-01', 'activity?from=2026-02-30', 'activity?to=yesterday', 'activity?from=2026-09-02&to=2026-09-01',
      'activity?from=2024-01-01&to=2026-01-01', 'activity?interval=year', 'activity?interval=day&interval=week', 'revenue?interval=week',
      'overview?format=xml', 'overview?project=a&project=b', `overview?project=${'x'.repeat(5000)}`, 'logins?from=2026-01-01%00',
      'gateway?to=%00', 'webhooks?from=1', 'retention?from=2025-01-01&to=2026-09-30',
    ];
    for (const path of cases) {
      const answer = await analytics(t, root, path);
      expect(answer.status, path).toBe(400);
      expect(answer.body.error, path).toBe('invalid_request');
    }
    const posted = await analytics(t, root, 'overview', { method: 'POST' });
    expect(posted.status).toBe(405);
  });
});
