// The admin console through a real hub over HTTP with cookie jars: who may use it (the hub
// administrator; a user without the role gets a 403 page, nobody an anonymous page), and each
// action through the pages changing what the admin API sees; CSRF; the CSV exports.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser } from '../support/browser.js';
import { adminApi, adminToken } from '../support/admin-token.js';
import { basicAuth } from '../support/oauth.js';
import { together } from '../gateway/support.js';
import { signInToAccount, textOf } from '../billing/support.js';
import { consoleUser, seedAnalytics, signInToConsole, submit } from './support.js';
import { enrol } from '../mfa/totp-support.js';

let t: TestHub;
let admin: Browser;
let token: string;

beforeAll(async () => {
  // The replay test's receiver listens on loopback.
  t = await startTestHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true' });
  token = await adminToken(t);
  await consoleUser(t, 'boss@example.com', 'admin');
  await consoleUser(t, 'viewer@example.com', 'read_only');
  await consoleUser(t, 'plain@example.com', 'none');
  await consoleUser(t, 'target@example.com', 'none');
  await seedAnalytics(t);
  ({ browser: admin } = await signInToConsole(t, 'boss@example.com'));
});
afterAll(async () => {
  await t?.stop();
});

const clientCredentials = (clientId: string, secret: string) => fetch(`${t.url}/token`, {
  method: 'POST',
  headers: { authorization: basicAuth(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'client_credentials' }),
});

describe('who may use the console', () => {
  it('anonymous: every page sends to the sign-in of the nexus-console client', async () => {
    const answer = await fetch(`${t.url}/console/users?q=a`, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/console/login?returnTo=%2Fconsole%2Fusers%3Fq%3Da');
    const login = await fetch(`${t.url}/console/login?returnTo=%2Fconsole%2Fusers`, { redirect: 'manual' });
    const authorize = new URL(login.headers.get('location')!, t.url);
    expect(authorize.pathname).toBe('/auth');
    expect(authorize.searchParams.get('client_id')).toBe('nexus-console');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${t.url}/console/callback`);
    const csv = await fetch(`${t.url}/console/analytics/overview.csv`, { redirect: 'manual' });
    expect(csv.status).toBe(302);
  });

  it('the administrator signs in and comes back to the page asked for; script-free', async () => {
    const { page } = await signInToConsole(t, 'boss@example.com', '/console/users?q=target');
    expect(new URL(page.url).pathname + new URL(page.url).search).toBe('/console/users?q=target');
    expect(page.response.status).toBe(200);
    expect(page.body).not.toMatch(/<script/i);
    expect(page.response.headers.get('content-security-policy')).not.toContain('script-src');
    expect(textOf(page.body)).toContain('target@example.com');
  });

  it('after `clients sync` puts clients.json\'s redirect URIs back, the next console sign-in adds its callback again', async () => {
    const synced = await adminApi(t, token, 'POST', '/clients/sync');
    expect(synced.status).toBe(200);
    expect((await adminApi(t, token, 'GET', '/clients/nexus-console')).body.redirectUris).toEqual(['http://localhost:3020/auth/callback']);
    const { page } = await signInToConsole(t, 'boss@example.com', '/console/keys');
    expect(new URL(page.url).pathname).toBe('/console/keys');
    expect((await adminApi(t, token, 'GET', '/clients/nexus-console')).body.redirectUris).toContain(`${t.url}/console/callback`);
  });

  it('a return address outside the console is the dashboard', async () => {
    const { page } = await signInToConsole(t, 'boss@example.com', '//evil.example/console');
    expect(new URL(page.url).pathname).toBe('/console');
  });

  it('a user without the admin role gets a 403 page, also when signed in through /account', async () => {
    const { page } = await signInToConsole(t, 'viewer@example.com', '/console/users');
    expect(page.response.status).toBe(403);
    expect(textOf(page.body)).toContain('Administrators only');
    const account = new Browser(t.url);
    await signInToAccount(account, 'plain@example.com', '/account');
    for (const path of ['/console', '/console/users', '/console/projects', '/console/analytics/overview.csv']) {
      const answer = await account.get(path);
      expect(answer.status, path).toBe(403);
    }
    // A form of theirs is refused as well, before anything changes.
    const post = await account.post('/console/users/target%40example.com/disabled', { csrf: 'x' });
    expect(post.status).toBe(403);
    expect((await adminApi(t, token, 'GET', '/users/target@example.com')).body.disabledAt).toBeNull();
  });

  it('the dashboard draws its charts as SVG, each with a CSV export that parses', async () => {
    const page = await admin.follow(await admin.get('/console'));
    expect(page.response.status).toBe(200);
    expect((page.body.match(/<svg class="chart"/g) ?? []).length).toBe(5);
    for (const name of ['activity', 'revenue', 'cross-project', 'retention', 'overview']) expect(page.body).toContain(`/console/analytics/${name}.csv`);
    const csv = await admin.get('/console/analytics/cross-project.csv');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect((await csv.text()).split('\r\n')[0]).toBe('projectA,projectB,users');
    const overview = await (await admin.get('/console/analytics/overview.csv')).text();
    expect(overview.split('\r\n')[0]).toBe('figure,value');
    expect(overview).toMatch(/^users\.total,\d+$/m);
    const sales = (await (await admin.get('/console/analytics/activity.csv?project=sales')).text()).split('\r\n');
    expect(sales[0]).toBe('period,actives,newUsers');
    expect(sales).toHaveLength(30 + 2); // header, 30 days, the final CRLF
    expect((await admin.get('/console/analytics/secrets.csv')).status).toBe(404);
    expect((await admin.get('/console/analytics/activity.csv?from=2026-02-30')).status).toBe(400);
  });
});

describe('actions through the pages, seen by the admin API', () => {
  const user = '/console/users/target%40example.com';

  it('disable and enable a user', async () => {
    const disabled = await submit(admin, user, '/disabled');
    expect(disabled.response.status).toBe(200);
    expect(textOf(disabled.body)).toContain('The user is disabled');
    expect((await adminApi(t, token, 'GET', '/users/target@example.com')).body.disabledAt).not.toBeNull();
    await submit(admin, user, '/enabled');
    expect((await adminApi(t, token, 'GET', '/users/target@example.com')).body.disabledAt).toBeNull();
  });

  it('grant and revoke project access, set the plan', async () => {
    await submit(admin, user, '/access', { project: 'liminal', role: 'user' });
    const granted = await adminApi(t, token, 'GET', '/access?email=target@example.com');
    expect(granted.body).toEqual(expect.arrayContaining([expect.objectContaining({ project: 'liminal', role: 'user', source: 'admin' })]));
    await submit(admin, user, '/revoked', { project: 'liminal' });
    expect((await adminApi(t, token, 'GET', '/access?email=target@example.com')).body.some((grant: { project: string }) => grant.project === 'liminal')).toBe(false);
    const planned = await submit(admin, user, '/plan', { plan: 'pro' });
    expect(textOf(planned.body)).toContain('pro (active)');
    expect((await adminApi(t, token, 'GET', '/users/target@example.com/plan')).body.plan).toBe('pro');
    // Something the form does not offer changes nothing.
    const unknown = await submit(admin, user, '/plan', { plan: 'platinum' });
    expect(unknown.response.status).toBe(400);
  });

  it('the password reset mail is queued for the user', async () => {
    const mailed = await submit(admin, user, '/reset-mail');
    expect(textOf(mailed.body)).toContain('A password reset link is on its way');
    const queued = await t.hub.db.prisma.mailMessage.findMany({ where: { to: 'target@example.com' } });
    expect(queued.map((mail) => mail.template)).toContain('reset-password');
    // Not to a disabled account: the page says why, nothing is queued.
    await submit(admin, user, '/disabled');
    const refused = await admin.post(`${user}/reset-mail`, { csrf: /name="csrf" value="([^"]+)"/.exec((await admin.follow(await admin.get(user))).body)![1] });
    expect(refused.status).toBe(400);
    expect(textOf(await refused.text())).toContain('is disabled: enable the account first');
    await submit(admin, user, '/enabled');
    expect(await t.hub.db.prisma.mailMessage.count({ where: { to: 'target@example.com', template: 'reset-password' } })).toBe(1);
  });

  it('reset the second factors of a user who lost their phone: removed, and they are told by mail', async () => {
    await consoleUser(t, 'lost-phone@example.com', 'none');
    await enrol(t, 'lost-phone@example.com');
    const path = '/console/users/lost-phone%40example.com';
    expect(textOf((await admin.follow(await admin.get(path))).body)).toContain('authenticator app');
    const reset = await submit(admin, path, '/mfa-reset');
    expect(textOf(reset.body)).toContain('second factors were removed');
    expect(textOf(reset.body)).toContain('Off (password only)');
    expect((await adminApi(t, token, 'GET', '/users/lost-phone@example.com')).body.hasTotp).not.toBe(true);
    expect(await t.hub.db.prisma.totpFactor.count({ where: { user: { email: 'lost-phone@example.com' } } })).toBe(0);
    expect((await t.hub.db.prisma.mailMessage.findMany({ where: { to: 'lost-phone@example.com' } })).length).toBeGreaterThan(0);
  });

  it('rotate a client secret with grace: shown once, no-store; the new one works and so does the old until the grace ends', async () => {
    const before = t.secrets.sales;
    const rotated = await submit(admin, '/console/projects', '/console/projects/sales/rotate-secret', { grace: '1h' });
    expect(rotated.response.status).toBe(200);
    expect(rotated.response.headers.get('cache-control')).toBe('no-store');
    const secret = /id="new-secret"[^>]*value="([^"]+)"/.exec(rotated.body)?.[1];
    expect(secret).toBeTruthy();
    expect(new URL(rotated.url).search).toBe('');
    expect((await clientCredentials('sales', secret!)).status).toBe(200);
    expect((await clientCredentials('sales', before)).status).toBe(200);
    expect((await adminApi(t, token, 'GET', '/clients/sales')).body.rotationGraceUntil).not.toBeNull();
    t.secrets.sales = secret!;
  });

  it('8 parallel rotations without grace: each answers, exactly one of the secrets works', async () => {
    const page = await admin.follow(await admin.get('/console/projects'));
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1];
    const answers = await together(8, () => admin.post('/console/projects/dream-people/rotate-secret', { csrf, grace: '0' }));
    const secrets = await Promise.all(answers.map(async (answer) => {
      expect(answer.status).toBe(200);
      return /id="new-secret"[^>]*value="([^"]+)"/.exec(await answer.text())![1];
    }));
    const working = await Promise.all(secrets.map(async (secret) => (await clientCredentials('dream-people', secret)).status === 200));
    expect(working.filter(Boolean)).toHaveLength(1);
  });

  it('disable and enable a project', async () => {
    await submit(admin, '/console/projects', '/console/projects/shelter/disable');
    expect((await adminApi(t, token, 'GET', '/clients/shelter')).body.enabled).toBe(false);
    await submit(admin, '/console/projects', '/console/projects/shelter/enable');
    expect((await adminApi(t, token, 'GET', '/clients/shelter')).body.enabled).toBe(true);
  });

  it('revoke an API key', async () => {
    const created = await adminApi(t, token, 'POST', '/apikeys', { email: 'target@example.com', name: 'notebook', env: 'test' });
    expect(created.status).toBe(201);
    const id = created.body.info?.id ?? created.body.id;
    const revoked = await submit(admin, '/console/api-keys?email=target%40example.com', `/console/api-keys/${id}/revoke`);
    expect(textOf(revoked.body)).toContain('The key was revoked');
    const keys = await adminApi(t, token, 'GET', '/apikeys?email=target@example.com');
    expect(keys.body.find((key: { id: string }) => key.id === id).revokedAt).not.toBeNull();
  });

  it('rotate the signing key; the audit log shows the console\'s changes by their author', async () => {
    const before = (await adminApi(t, token, 'GET', '/keys')).body.length;
    await submit(admin, '/console/keys', '/console/keys/rotate');
    expect((await adminApi(t, token, 'GET', '/keys')).body.length).toBeGreaterThan(before);
    // Rotated once more, the key rotated in above no longer signs: retire it (not the one that signed our admin token).
    await submit(admin, '/console/keys', '/console/keys/rotate');
    const ours = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid;
    const keys = (await adminApi(t, token, 'GET', '/keys')).body as Array<{ kid: string; use: string; current: boolean; retiredAt: string | null }>;
    const previous = keys.find((key) => key.use === 'sig' && !key.current && !key.retiredAt && key.kid !== ours)!;
    await submit(admin, '/console/keys', `/console/keys/${encodeURIComponent(previous.kid)}/retire`);
    expect((await adminApi(t, token, 'GET', '/keys')).body.find((key: { kid: string }) => key.kid === previous.kid).retiredAt).not.toBeNull();
    const audit = await admin.follow(await admin.get('/console/audit?type=user.disabled'));
    expect(audit.response.status).toBe(200);
    expect(textOf(audit.body)).toContain('admin:boss@example.com');
    const byUser = await admin.follow(await admin.get('/console/audit?user=target%40example.com'));
    expect(textOf(byUser.body)).toContain('user.disabled');
  });
});

describe('webhooks', () => {
  it('a delivered event replayed from the delivery log is delivered again', async () => {
    let received = 0;
    const receiver = http.createServer((request, response) => { received++; request.resume(); response.end('ok'); });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
      const { endpoint } = (await adminApi(t, token, 'POST', '/webhooks/endpoints', { all: true, url, events: ['deal.won'] })).body;
      expect(endpoint.id).toBeTruthy();
      const target = await t.hub.users.get('target@example.com');
      await t.hub.bus.emit('sales', { type: 'client', id: 'sales' }, [{ type: 'deal.won', subject: target.id, data: { dealId: 'd-2', dealValue: 5 } }]);
      const deliveries = async () => (await adminApi(t, token, 'GET', `/webhooks/endpoints/${endpoint.id}/deliveries`)).body.deliveries as Array<{ id: string; status: string }>;
      await expect.poll(async () => (await deliveries()).map((d) => d.status), { timeout: 15_000 }).toEqual(['delivered']);
      const log = await admin.follow(await admin.get(`/console/webhooks/${endpoint.id}`));
      expect(textOf(log.body)).toContain('delivered');
      const replayed = await submit(admin, `/console/webhooks/${endpoint.id}`, '/replay');
      expect(textOf(replayed.body)).toContain('The delivery was queued again.');
      await expect.poll(async () => (await deliveries()).filter((d) => d.status === 'delivered').length, { timeout: 15_000 }).toBe(2);
      expect(received).toBe(2);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

describe('automations', () => {
  it('lists the rules of automations.json with their last runs', async () => {
    const target = await t.hub.users.get('target@example.com');
    await t.hub.bus.emit('sales', { type: 'client', id: 'sales' }, [{ type: 'deal.won', subject: target.id, data: { dealId: 'd-1', dealValue: 10 } }]);
    const page = await admin.follow(await admin.get('/console/automations'));
    expect(page.response.status).toBe(200);
    const text = textOf(page.body);
    for (const rule of ['sales-commission', 'audit-testimonial', 'assessment-suggestion']) expect(text).toContain(rule);
    // The won deal queued one run of sales-commission (dream-people has no upstream here: it stays pending or fails).
    const section = page.body.slice(page.body.indexOf('rule-sales-commission'), page.body.indexOf('rule-audit-testimonial'));
    expect(textOf(section)).toContain('deal.won');
  });
});

describe('CSRF and hostile input', () => {
  it('a form without the token, or with another session\'s, is refused and changes nothing', async () => {
    expect((await admin.post('/console/users/target%40example.com/disabled', {})).status).toBe(403);
    const other = (await signInToConsole(t, 'boss@example.com')).browser;
    const page = await other.follow(await other.get('/console/keys'));
    const foreign = /name="csrf" value="([^"]+)"/.exec(page.body)![1];
    expect((await admin.post('/console/users/target%40example.com/disabled', { csrf: foreign })).status).toBe(403);
    expect((await adminApi(t, token, 'GET', '/users/target@example.com')).body.disabledAt).toBeNull();
  });

  it('NUL bytes, huge and repeated parameters, wrong methods: never a 5xx', async () => {
    const page = await admin.follow(await admin.get('/console/keys'));
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1];
    const paths = [
      '/console/users?q=%00', `/console/users?q=${'a'.repeat(20_000)}`, '/console/users?q=a&q=b', '/console/users/%00',
      `/console/users/${'x'.repeat(5000)}%40example.com`, '/console/users/%E0%A4%A', '/console/audit?type=%00&user=%00&project=%00&since=%00&after=%00',
      '/console/audit?since=9999-99-99&after=99999999999999999999', '/console/audit?user=nobody%40example.com', '/console/audit?user=a&user=b',
      '/console/webhooks/%00', '/console/webhooks/00000000-0000-4000-8000-000000000000', '/console/api-keys?email=%00', '/console/api-keys?email=nobody%40example.com',
      '/console/analytics/activity.csv?interval=year', '/console/analytics/activity.csv?from=a&from=b', '/console/analytics/%00.csv', '/console/login?returnTo=%00',
      '/console/callback?state=%00', '/console/callback?state=a&state=b',
    ];
    for (const path of paths) expect((await admin.get(path)).status, path).toBeLessThan(500);
    const posts: Array<[string, Record<string, string>]> = [
      ['/console/users/%00/disabled', { csrf }], ['/console/users/nobody%40example.com/plan', { csrf, plan: 'pro' }],
      ['/console/users/target%40example.com/access', { csrf, project: '\u0000', role: 'user' }], ['/console/users/target%40example.com/access', { csrf, project: 'sales', role: 'x'.repeat(10_000) }],
      ['/console/users/target%40example.com/revoked', { csrf, project: 'nothing' }], ['/console/projects/%00/rotate-secret', { csrf, grace: '1h' }],
      ['/console/projects/sales/rotate-secret', { csrf, grace: '999d' }], ['/console/projects/nothing/disable', { csrf }], ['/console/keys/%00/retire', { csrf }],
      ['/console/api-keys/%00/revoke', { csrf }], ['/console/api-keys/00000000-0000-4000-8000-000000000000/revoke', { csrf }], ['/console/deliveries/%00/replay', { csrf }],
      ['/console/deliveries/00000000-0000-4000-8000-000000000000/replay', { csrf }],
    ];
    for (const [path, form] of posts) expect((await admin.post(path, form)).status, path).toBeLessThan(500);
    const repeated = await admin.request('/console/users/target%40example.com/plan', {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(csrf)}&plan=pro&plan=free`,
    });
    expect(repeated.status).toBe(400);
    const json = await admin.request('/console/keys/rotate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csrf }) });
    expect(json.status).toBe(403);
    for (const [method, path] of [['PUT', '/console/users'], ['DELETE', '/console/projects'], ['POST', '/console'], ['GET', '/console/keys/rotate']]) {
      expect((await admin.request(path, { method })).status, `${method} ${path}`).toBeLessThan(500);
    }
  });
});
