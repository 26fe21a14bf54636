// GET /metrics on a real hub with METRICS_TOKEN: known traffic (tokens by grant, right and wrong
// passwords, gateway requests to a real upstream with known statuses) gives exact counter
// values in a parsed exposition; nothing personal in it; bounded labels; the token is required.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { createUser, PASSWORD, putBehindGateway, SALES_CALLBACK, signIn, startUpstream, together, type Upstream } from '../gateway/support.js';
import { parseExposition, valueOf, type Exposition } from './exposition.js';

const TOKEN = randomBytes(24).toString('hex');
const EMAIL = 'metrics-ada@example.com';
let t: TestHub;
let upstream: Upstream;
let userId: string;

async function scrape(headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) {
  const response = await fetch(`${t.url}/metrics`, { headers });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function exposition(): Promise<Exposition> {
  const response = await scrape();
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(response.text);
}

beforeAll(async () => {
  t = await startTestHub({ METRICS_TOKEN: TOKEN, LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' });
  upstream = await startUpstream();
  await putBehindGateway(t, 'sales', upstream.url);
  userId = (await createUser(t, EMAIL)).id;
});

afterAll(async () => {
  await upstream?.close();
  await t?.stop();
});

describe('GET /metrics', () => {
  it('counts tokens by grant, logins by outcome, gateway requests and latency by project, requests by route', async () => {
    const before = await exposition();
    const grow = (after: Exposition, name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);

    for (let i = 0; i < 5; i++) expect((await postForm(t, '/token', 'sales', { grant_type: 'client_credentials', scope: 'leads:read' })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const refused = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid', email: EMAIL, password: 'not the password' });
      expect(refused.code).toBeNull();
    }
    const login = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid offline_access leads:read', email: EMAIL, password: PASSWORD });
    const tokens = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: login.code!, code_verifier: login.verifier, redirect_uri: SALES_CALLBACK });
    expect(tokens.status).toBe(200);
    let refreshToken = tokens.body.refresh_token;
    for (let i = 0; i < 3; i++) {
      const refreshed = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: refreshToken });
      expect(refreshed.status).toBe(200);
      refreshToken = refreshed.body.refresh_token ?? refreshToken;
    }
    expect((await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token' })).status).toBe(400);
    const accessToken = await signIn(t, EMAIL); // a second password sign-in and authorization code
    for (const status of [200, 200, 200, 404, 404, 503]) {
      const answer = await fetch(`${t.url}/api/gateway/sales/status/${status}`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(answer.status).toBe(status);
      await answer.arrayBuffer();
    }
    for (let i = 0; i < 4; i++) expect((await fetch(`${t.url}/healthz`)).status).toBe(200);

    const response = await scrape();
    const after = parseExposition(response.text);
    expect(grow(after, 'nexus_oidc_tokens_issued_total', { grant: 'client_credentials' })).toBe(5);
    expect(grow(after, 'nexus_oidc_tokens_issued_total', { grant: 'authorization_code' })).toBe(2);
    expect(grow(after, 'nexus_oidc_tokens_issued_total', { grant: 'refresh_token' })).toBe(3);
    expect(grow(after, 'nexus_logins_total', { outcome: 'wrong_password' })).toBe(2);
    expect(grow(after, 'nexus_logins_total', { outcome: 'success' })).toBe(2);
    expect(grow(after, 'nexus_gateway_requests_total', { project: 'sales', status: '2xx' })).toBe(3);
    expect(grow(after, 'nexus_gateway_requests_total', { project: 'sales', status: '4xx' })).toBe(2);
    expect(grow(after, 'nexus_gateway_requests_total', { project: 'sales', status: '5xx' })).toBe(1);
    expect(grow(after, 'nexus_gateway_upstream_seconds_count', { project: 'sales' })).toBe(6);
    expect(grow(after, 'nexus_gateway_upstream_seconds_bucket', { project: 'sales', le: '+Inf' })).toBe(6);
    expect(after.types.get('nexus_gateway_upstream_seconds')).toBe('histogram');
    expect(grow(after, 'nexus_http_requests_total', { route: '/healthz', method: 'GET', status: '200' })).toBe(4);
    expect(grow(after, 'nexus_http_requests_total', { route: '/interaction/:uid/login', method: 'POST', status: '401' })).toBe(2);
    expect(grow(after, 'nexus_http_requests_total', { route: '/token', method: 'POST', status: '400' })).toBe(1);
    expect(grow(after, 'nexus_http_requests_total', { route: '/token', method: 'POST', status: '200' })).toBe(10);
    // The pool, the queue and the process.
    expect(valueOf(after, 'nexus_db_pool_connections', { state: 'total' })).toBeGreaterThan(0);
    expect(valueOf(after, 'nexus_db_pool_connections', { state: 'waiting' })).toBeGreaterThanOrEqual(0);
    expect(after.types.get('nexus_webhook_queue_depth')).toBe('gauge');
    expect(valueOf(after, 'nexus_webhook_queue_depth')).toBe(0);
    expect(after.types.has('nodejs_eventloop_lag_seconds')).toBe(true);

    // Nothing that names a person, an address or a credential.
    for (const secret of [userId, EMAIL, '127.0.0.1', 'localhost', accessToken, refreshToken, TOKEN, t.secrets.sales]) {
      expect(response.text).not.toContain(secret);
    }
  });

  it('counts throttled and incomplete sign-ins', async () => {
    const email = 'metrics-bob@example.com';
    await createUser(t, email);
    const before = await exposition();
    const attempt = (password: string) => authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid', email, password });
    for (let i = 0; i < 3; i++) expect((await attempt('wrong')).response.status).toBe(401);
    expect((await attempt(PASSWORD)).response.status).toBe(429);
    expect((await attempt('')).response.status).toBe(400);
    const after = await exposition();
    const grow = (outcome: string) => valueOf(after, 'nexus_logins_total', { outcome }) - valueOf(before, 'nexus_logins_total', { outcome });
    expect([grow('wrong_password'), grow('throttled'), grow('incomplete'), grow('success')]).toEqual([3, 1, 1, 0]);
  });

  it('requires METRICS_TOKEN as a Bearer token when it is set', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token-wrong-token' }, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer  ${TOKEN}` }]) {
      const refused = await scrape(headers);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(refused.text).not.toContain('nexus_');
    }
    expect((await scrape()).status).toBe(200);
  });

  it('answers other methods 405 and hostile input never with a 5xx', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const answer = await fetch(`${t.url}/metrics`, { method, headers: { authorization: `Bearer ${TOKEN}` }, body: method === 'OPTIONS' ? undefined : 'x=1' });
      expect(answer.status).toBe(405);
      expect(answer.headers.get('allow')).toBe('GET, HEAD');
    }
    const head = await fetch(`${t.url}/metrics`, { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(head.status).toBe(200);
    const hostile = [
      '/metrics?name=%00', `/metrics?${'name=x&'.repeat(2000)}`, `/metrics?q=${'a'.repeat(6000)}`, '/metrics%00', '/metrics/%00/x', '/metrics?name[]=1&name[x]=2',
    ];
    for (const path of hostile) {
      const answer = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(answer.status, path).toBeLessThan(500);
    }
    for (const authorization of [`Bearer ${'a'.repeat(7000)}`, 'Bearer', 'Bearer \t', `Bearer ${TOKEN},Bearer ${TOKEN}`]) {
      expect((await scrape({ authorization })).status).toBe(401);
    }
  });

  it('serves parallel scrapes, all alike, while the queue depth is read once per 5 s', async () => {
    const answers = await together(12, () => scrape());
    const depths = answers.map((a) => {
      expect(a.status).toBe(200);
      return valueOf(parseExposition(a.text), 'nexus_webhook_queue_depth');
    });
    expect(new Set(depths)).toEqual(new Set([0]));
  });

  it('keeps the route label to route templates under 1,000 random paths', async () => {
    const routes = (e: Exposition) => new Set(e.samples.filter((s) => s.name === 'nexus_http_requests_total').map((s) => s.labels.route));
    const known = routes(await exposition());
    const marks: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const mark = randomBytes(6).toString('hex');
        marks.push(mark);
        const path = [`/${mark}`, `/account/${mark}`, `/interaction/${mark}`, `/x/${mark}/%00/${i}`, `/assets/${mark}.css`][i % 5];
        const answer = await fetch(`${t.url}${path}?${mark}=1`, { method: i % 2 ? 'GET' : 'POST' });
        expect(answer.status).toBeLessThan(500);
        await answer.arrayBuffer();
      }));
    }
    const response = await scrape();
    const after = routes(parseExposition(response.text));
    const added = [...after].filter((route) => !known.has(route));
    expect(after.size).toBeLessThan(known.size + 5);
    for (const route of added) expect(route === 'unmatched' || route.includes(':') || route.includes('*'), route).toBe(true);
    for (const mark of marks) expect(response.text).not.toContain(mark);
  });
});
