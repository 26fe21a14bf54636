// ANALYTICS_ACTIVITY=false, the operators' privacy switch: a sign-in's token, a refresh and
// gateway requests leave no activity_days row while the sign-in and gateway counters still count;
// an instance with the default on the same database records the same user again; a value that is
// not a boolean stops the hub at start-up with one line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecondInstance, startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser } from '../support/browser.js';
import { basicAuth, postForm } from '../support/oauth.js';
import { runServer } from '../support/process.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { together } from '../support/together.js';
import { createUser, PASSWORD, putBehindGateway, SALES_CALLBACK, startUpstream, type Upstream } from '../gateway/support.js';
import { today } from './support.js';

let t: TestHub;
let upstream: Upstream;
let ada: { id: string };

const activityRows = async () => (await t.hub.db.pool.query('SELECT day::text AS day, project, user_id FROM activity_days ORDER BY project')).rows;
const count = async (metric: string, key: string) => Number((await t.hub.db.pool.query(
  'SELECT coalesce(sum(count), 0) AS n FROM daily_counts WHERE day = $1 AND metric = $2 AND key = $3', [today(), metric, key])).rows[0].n);

beforeAll(async () => {
  t = await startTestHub({ ANALYTICS_ACTIVITY: 'false' });
  upstream = await startUpstream();
  await putBehindGateway(t, 'sales', upstream.url);
  ada = await createUser(t, 'ada@example.com');
}, 60_000);
afterAll(async () => {
  await upstream?.close();
  await t?.stop();
});

describe('ANALYTICS_ACTIVITY=false', () => {
  let tokens: Record<string, string>;

  it('a sign-in, a refresh and 8 parallel gateway requests write no activity row; sign-ins and requests are still counted', async () => {
    const login = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid offline_access leads:read', email: 'ada@example.com', password: PASSWORD });
    const issued = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: login.code!, code_verifier: login.verifier, redirect_uri: SALES_CALLBACK });
    expect(issued.status, issued.text).toBe(200);
    const refreshed = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token });
    expect(refreshed.status, refreshed.text).toBe(200);
    tokens = refreshed.body;
    const answers = await together(8, () => fetch(`${t.url}/api/gateway/sales/leads`, { headers: { authorization: `Bearer ${tokens.access_token}` } }).then((r) => r.status));
    expect(answers).toEqual(Array(8).fill(200));

    await t.hub.recording.flush();
    expect(await activityRows()).toEqual([]);
    expect(await count('logins', 'success')).toBe(1);
    expect(await count('project_logins', 'sales:success')).toBe(1);
    expect(await count('gateway', 'sales:2xx')).toBe(8);
  });

  it('nothing is held back for a later flush either: the close writes no row', async () => {
    await t.restart();
    expect(await activityRows()).toEqual([]);
  });

  it('an instance with the default (on) on the same database records the user at their next refresh', async () => {
    const { ANALYTICS_ACTIVITY: _off, ...defaults } = t.env;
    const second = await startSecondInstance({ ...t, env: defaults });
    try {
      const refreshed = await fetch(`${second.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('sales', t.secrets.sales) },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
      });
      expect(refreshed.status).toBe(200);
      await second.hub.recording.flush();
      expect(await activityRows()).toEqual([{ day: today(), project: 'sales', user_id: ada.id }]);
    } finally {
      await second.stop();
    }
  });
});

describe('a value that is not a boolean', () => {
  const problems = (value: string) => {
    try {
      loadConfig({ ANALYTICS_ACTIVITY: value });
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it('is one problem line; the usual spellings of on and off are accepted, unset is on', () => {
    expect(problems('sometimes')).toEqual(['ANALYTICS_ACTIVITY must be true or false (got "sometimes")']);
    for (const off of ['false', '0', 'no', 'OFF']) expect(loadConfig({ ANALYTICS_ACTIVITY: off }).analyticsActivity, off).toBe(false);
    for (const on of ['true', '1', 'yes', 'On', '']) expect(loadConfig({ ANALYTICS_ACTIVITY: on }).analyticsActivity, on).toBe(true);
    expect(loadConfig({}).analyticsActivity).toBe(true);
  });

  it('stops the real server before it starts: exit 78 with that one line', async () => {
    const server = runServer({ ANALYTICS_ACTIVITY: 'nope', DATA_DIR: '/nonexistent/never-created' });
    expect(await server.exited).toBe(78);
    const output = server.output();
    expect(output.split('\n').filter((line) => line.startsWith('  - '))).toEqual(['  - ANALYTICS_ACTIVITY must be true or false (got "nope")']);
    expect(output).not.toContain('    at ');
  });
});
