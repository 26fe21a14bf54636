// What the hub records as it runs, through its real paths: tokens issued and refreshed, gateway
// requests, sign-in outcomes (then a flush, or the flush at close) → the rows; in-memory dedup
// under parallel requests; client credentials are no user's activity; the daily snapshot once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser, parseForm } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { createUser, PASSWORD, putBehindGateway, SALES_CALLBACK, startUpstream, together, type Upstream } from '../gateway/support.js';
import { takeSnapshot } from '../../src/analytics/snapshots.js';
import { today } from './support.js';

let t: TestHub;
let upstream: Upstream;
let ada: { id: string };
let tokens: Record<string, string>;

const rowsOf = async (userId: string) => (await t.hub.db.pool.query(
  'SELECT day::text AS day, project FROM activity_days WHERE user_id = $1 ORDER BY project', [userId])).rows;
const count = async (metric: string, key: string) => Number((await t.hub.db.pool.query(
  'SELECT coalesce(sum(count), 0) AS n FROM daily_counts WHERE day = $1 AND metric = $2 AND key LIKE $3', [today(), metric, key])).rows[0].n);

beforeAll(async () => {
  t = await startTestHub();
  upstream = await startUpstream();
  await putBehindGateway(t, 'sales', upstream.url);
  ada = await createUser(t, 'ada@example.com');
  // Two subscriptions for the snapshot; the hub took today's at start, when there were none.
  await t.hub.db.pool.query(`
    INSERT INTO subscriptions (id, user_id, plan, status, mrr_cents, updated_at)
    SELECT gen_random_uuid(), id, 'pro', 'active', 2900, now() FROM users WHERE email = 'ada@example.com'`);
  const grace = await createUser(t, 'grace@example.com');
  await t.hub.db.pool.query("INSERT INTO subscriptions (id, user_id, plan, status, mrr_cents, updated_at) VALUES (gen_random_uuid(), $1, 'free', 'active', 0, now())", [grace.id]);
}, 60_000);
afterAll(async () => {
  await upstream?.close();
  await t?.stop();
});

describe('activity from tokens and the gateway', () => {
  it("a sign-in's token makes the user active in the project today; the sign-in is counted by outcome", async () => {
    const login = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid offline_access leads:read', email: 'ada@example.com', password: PASSWORD });
    const issued = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: login.code!, code_verifier: login.verifier, redirect_uri: SALES_CALLBACK });
    expect(issued.status, issued.text).toBe(200);
    tokens = issued.body;
    expect(await rowsOf(ada.id)).toEqual([]); // nothing written on the request path
    await t.hub.recording.flush();
    expect(await rowsOf(ada.id)).toEqual([{ day: today(), project: 'sales' }]);
    expect(await count('logins', 'success')).toBe(1);
    expect(await count('project_logins', 'sales:success')).toBe(1);
  });

  it('a wrong password is counted as such', async () => {
    const browser = new Browser(t.url);
    const params = new URLSearchParams({ client_id: 'sales', redirect_uri: SALES_CALLBACK, response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    const page = await browser.follow(await browser.get(`/auth?${params}`));
    const { action, fields } = parseForm(page.body, '/login');
    const refused = await browser.post(action, { ...fields, email: 'ada@example.com', password: 'not the password' });
    expect(refused.status).toBe(401);
    await t.hub.recording.flush();
    expect(await count('logins', 'wrong_password')).toBe(1);
    expect(await count('project_logins', 'sales:wrong_password')).toBe(1);
  });

  it('client-credentials tokens are not user activity', async () => {
    const before = (await t.hub.db.pool.query('SELECT count(*)::int AS n FROM activity_days')).rows[0].n;
    const answers = await together(8, () => postForm(t, '/token', 'sales', { grant_type: 'client_credentials', scope: 'leads:read' }));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    await t.hub.recording.flush();
    expect((await t.hub.db.pool.query('SELECT count(*)::int AS n FROM activity_days')).rows[0].n).toBe(before);
  });

  it('8 parallel gateway requests as one user: one row, 8 requests and 8 latencies counted', async () => {
    await t.restart(); // a fresh instance: nothing seen today yet
    await t.hub.db.pool.query('DELETE FROM activity_days');
    const answers = await together(8, () => fetch(`${t.url}/api/gateway/sales/leads`, { headers: { authorization: `Bearer ${tokens.access_token}` } }).then((r) => r.status));
    expect(answers).toEqual(Array(8).fill(200));
    await t.hub.recording.flush();
    expect(await rowsOf(ada.id)).toEqual([{ day: today(), project: 'sales' }]);
    expect(await count('gateway', 'sales:2xx')).toBe(8);
    expect(await count('gateway_latency', 'sales:%')).toBe(8);
  });

  it("the hub's own calls as the user (automation rules, the dashboard's cards) count as requests, not as the user's activity", async () => {
    await t.restart();
    await t.hub.db.pool.query('DELETE FROM activity_days');
    const before = await count('gateway', 'sales:2xx');
    const answer = await t.hub.gateway.callAs({ projectId: 'sales', userId: ada.id, method: 'GET', path: '/summary', headers: {}, requestId: 'analytics-test', timeoutMs: 2_000, maxBytes: 16_384 });
    expect(answer.status).toBe(200);
    await t.hub.recording.flush();
    expect(await rowsOf(ada.id)).toEqual([]);
    expect(await count('gateway', 'sales:2xx')).toBe(before + 1);
  });

  it('a refresh makes the user active; what is recorded is written when the hub closes', async () => {
    await t.restart();
    await t.hub.db.pool.query('DELETE FROM activity_days');
    const refreshed = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status, refreshed.text).toBe(200);
    await t.restart(); // close flushes
    expect(await rowsOf(ada.id)).toEqual([{ day: today(), project: 'sales' }]);
  });
});

describe('the daily subscription snapshot', () => {
  it("is taken at start when today's is missing, from the hub's subscription rows", async () => {
    // The restarts above found today's snapshot missing (there were no subscriptions at first).
    const { rows } = await t.hub.db.pool.query(
      'SELECT plan, status, mrr_cents FROM subscription_snapshots WHERE day = $1 ORDER BY plan', [today()]);
    expect(rows).toEqual([{ plan: 'free', status: 'active', mrr_cents: 0 }, { plan: 'pro', status: 'active', mrr_cents: 2900 }]);
  });

  it('8 instances racing after midnight write one snapshot', async () => {
    const results = await together(8, () => takeSnapshot(t.hub.db.pool, '2026-06-01'));
    expect(results.filter(Boolean)).toHaveLength(1);
    const { rows } = await t.hub.db.pool.query("SELECT count(*)::int AS n, sum(mrr_cents)::int AS mrr FROM subscription_snapshots WHERE day = '2026-06-01'");
    expect(rows[0]).toEqual({ n: 2, mrr: 2900 });
    expect(await takeSnapshot(t.hub.db.pool, '2026-06-01')).toBe(false); // never recomputed
  });

  it("8 instances writing 8 different days at once each write theirs: one day's snapshot never holds up another's", async () => {
    const days = Array.from({ length: 8 }, (_, i) => `2026-06-${String(10 + i)}`);
    expect(await together(8, (i) => takeSnapshot(t.hub.db.pool, days[i]))).toEqual(days.map(() => true));
    const { rows } = await t.hub.db.pool.query("SELECT count(DISTINCT day)::int AS days FROM subscription_snapshots WHERE day BETWEEN '2026-06-10' AND '2026-06-17'");
    expect(rows[0].days).toBe(8);
  });
});
