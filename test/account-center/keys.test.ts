// Self-service API keys (/account/keys) through a real hub: a key created on the page is shown
// once (on the answer page only, no-store, never in a URL), works at the gateway in front of a
// real upstream, and stops working there once revoked on the page; another user's key id is
// 404; at most 25 keys in use, also under 8 parallel creations; CSRF and hostile input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm } from '../support/browser.js';
import { createUser, eventRows, page, signInToAccount, textOf } from '../billing/support.js';
import { putBehindGateway, startUpstream, together, type Upstream } from '../gateway/support.js';
import { ApiKeys } from '../../src/accounts/api-keys.js';
import { sha256Hex } from '../../src/secrets/tokens.js';
import { MAX_USABLE_KEYS } from '../../src/account-center/keys-routes.js';

let t: TestHub;
let upstream: Upstream;
let browser: Browser;
let userId: string;
let apiKeys: ApiKeys;

beforeAll(async () => {
  // A 1 s verification cache at the gateway keeps the revocation test quick (the default is 5 s).
  t = await startTestHub({ GATEWAY_VERIFY_CACHE_SECONDS: '1' });
  upstream = await startUpstream();
  await putBehindGateway(t, 'sales', upstream.url);
  apiKeys = new ApiKeys(t.hub.db.prisma);
  userId = (await createUser(t, 'ada@example.com', 'Ada')).id;
  browser = new Browser(t.url);
  await signInToAccount(browser, 'ada@example.com', '/account/keys');
});
afterAll(async () => {
  await upstream?.close();
  await t?.stop();
});

async function createOnPage(values: Record<string, string>, b = browser) {
  // The create form is the page's first form whose action contains /account/keys.
  const { action, fields } = parseForm((await page(b, '/account/keys')).body, '/account/keys');
  return b.post(action, { ...fields, ...values });
}

const gateway = (key: string) => fetch(`${t.url}/api/gateway/sales/leads`, { headers: { 'x-api-key': key } });

describe('the keys page', () => {
  it('lists nothing at first, offers the create form with its CSRF token; no scripts', async () => {
    const shown = await page(browser, '/account/keys');
    expect(shown.response.status).toBe(200);
    expect(shown.body).toContain('<a href="/account/keys" aria-current="page">API keys</a>');
    expect(textOf(shown.body)).toContain('You have no API keys yet.');
    expect(shown.body).not.toMatch(/<script/i);
    expect(parseForm(shown.body, '/account/keys').fields).toEqual({ csrf: expect.any(String), name: '' });
  });

  it('without a session: the sign-in', async () => {
    const answer = await fetch(`${t.url}/account/keys`, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/account/login?returnTo=%2Faccount%2Fkeys');
  });
});

describe('a key from the page, used at the gateway, then revoked', () => {
  let key: string;
  let keyId: string;

  it('is shown once on the answer page (no-store, no redirect), stored only as a hash, and published without the key', async () => {
    const answer = await createOnPage({ name: 'notebook', env: 'live', expires: '30d' });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('location')).toBeNull();
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const body = await answer.text();
    key = /value="(nxk_live_[A-Za-z0-9_-]{43})"/.exec(body)?.[1] ?? '';
    expect(key, body.slice(0, 2000)).not.toBe('');
    expect(textOf(body)).toContain('this is the only time it is shown');

    const [row] = await t.hub.db.prisma.apiKey.findMany({ where: { userId } });
    keyId = row.id;
    expect(row).toMatchObject({ name: 'notebook', env: 'live', prefix: key.slice(0, 13), keyHash: sha256Hex(key), revokedAt: null });
    const days = (row.expiresAt!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);

    const [created] = await eventRows(t, { type: 'apikey.created', userId });
    expect(created).toMatchObject({ actor: { type: 'user', id: userId }, data: { id: keyId, name: 'notebook', env: 'live', prefix: key.slice(0, 13) } });
    expect(JSON.stringify(created.data)).not.toContain(key);

    // The list shows it by name and prefix, never the key again.
    const listed = await page(browser, '/account/keys');
    expect(listed.body).not.toContain(key);
    const text = textOf(listed.body);
    expect(text).toContain(`notebook live Active ${key.slice(0, 13)}…`);
    expect(text).toMatch(/Last used Never/);
    expect(text).toMatch(/Expires \d{1,2} \w{3} \d{4}/);
  });

  it('works at the gateway as the user (auth method api_key); the list then shows when it was last used', async () => {
    const answer = await gateway(key);
    expect(answer.status).toBe(200);
    const echo = await answer.json() as { headers: Record<string, string> };
    expect(echo.headers).toMatchObject({ 'x-nexus-user-id': userId, 'x-nexus-auth-method': 'api_key', 'x-nexus-key-id': keyId, 'x-nexus-email': 'ada@example.com' });
    expect(JSON.stringify(echo)).not.toContain(key);
    expect(textOf((await page(browser, '/account/keys')).body)).not.toMatch(/Last used Never/);
  });

  it('another user cannot revoke it: their revoke of this id is 404 and the key keeps working', async () => {
    await createUser(t, 'mallory@example.com', 'Mallory');
    const mallory = new Browser(t.url);
    await signInToAccount(mallory, 'mallory@example.com', '/account/keys');
    const { fields } = parseForm((await page(mallory, '/account/keys')).body, '/account/keys');
    const answer = await mallory.post(`/account/keys/${keyId}/revoke`, { csrf: fields.csrf });
    expect(answer.status).toBe(404);
    expect(textOf(await answer.text())).toContain('There is no such API key in your account.');
    expect((await t.hub.db.prisma.apiKey.findUniqueOrThrow({ where: { id: keyId } })).revokedAt).toBeNull();
    expect(await eventRows(t, { type: 'apikey.revoked' })).toEqual([]);
    expect((await gateway(key)).status).toBe(200);
  });

  it('revoked on the page: 303 back to the list, apikey.revoked, and the gateway refuses it within the cache bound', async () => {
    const { action, fields } = parseForm((await page(browser, '/account/keys')).body, `/account/keys/${keyId}/revoke`);
    const answer = await browser.post(action, fields);
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/account/keys?revoked=1');
    const revokedAt = Date.now();
    const listed = textOf((await page(browser, '/account/keys?revoked=1')).body);
    expect(listed).toContain('The key was revoked');
    expect(listed).toContain('notebook live Revoked');
    expect(await eventRows(t, { type: 'apikey.revoked', userId })).toEqual([expect.objectContaining({ actor: { type: 'user', id: userId }, data: expect.objectContaining({ id: keyId }) })]);

    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 3000) {
      status = (await gateway(key)).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(401);
    // Revoking again changes nothing: no second event.
    expect((await browser.post(action, fields)).status).toBe(303);
    expect(await eventRows(t, { type: 'apikey.revoked', userId })).toHaveLength(1);
  });

  it('8 parallel revokes of one key behind a barrier: all 303, one apikey.revoked', async () => {
    const answer = await createOnPage({ name: 'raced', env: 'test', expires: '7d' });
    expect(answer.status).toBe(200);
    const raced = await t.hub.db.prisma.apiKey.findFirstOrThrow({ where: { userId, name: 'raced' } });
    const { action, fields } = parseForm((await page(browser, '/account/keys')).body, `/account/keys/${raced.id}/revoke`);
    const answers = await together(8, () => browser.post(action, fields));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(303));
    expect((await eventRows(t, { type: 'apikey.revoked', userId })).filter((e) => (e.data as { id: string }).id === raced.id)).toHaveLength(1);
  });

  it('unknown, malformed and NUL-laden ids are 404', async () => {
    const { fields } = parseForm((await page(browser, '/account/keys')).body, '/account/keys');
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', '%00', 'x'.repeat(600)]) {
      expect((await browser.post(`/account/keys/${id}/revoke`, { csrf: fields.csrf })).status, id).toBe(404);
    }
  });
});

describe('what the form accepts', () => {
  it.each([
    ['no name', { name: '  ', env: 'test', expires: '7d' }, 'Name must be 1 to 100 characters.'],
    ['a long name', { name: 'n'.repeat(101), env: 'test', expires: '7d' }, 'Name must be 1 to 100 characters.'],
    ['a NUL in the name', { name: 'note\u0000book', env: 'test', expires: '7d' }, 'control characters'],
    ['an unknown environment', { name: 'nb', env: 'prod', expires: '7d' }, 'Env must be live or test.'],
    ['an expiry not offered', { name: 'nb', env: 'test', expires: '1000d' }, 'one of the lifetimes offered'],
    ['a repeated expiry', { name: 'nb', env: 'test', expires: '7d&expires=30d' }, 'one of the lifetimes offered'],
    ['no expiry field', { name: 'nb', env: 'test', expires: undefined }, 'one of the lifetimes offered'],
  ])('refuses %s (400, the form again with the values typed)', async (_label, values, reason) => {
    const before = await t.hub.db.prisma.apiKey.count();
    const { action, fields } = parseForm((await page(browser, '/account/keys')).body, '/account/keys');
    // `expires` goes in as written: '7d&expires=30d' repeats the field; undefined leaves it out.
    const { expires, ...rest } = values;
    const body = `${new URLSearchParams({ ...fields, ...rest })}${expires === undefined ? '' : `&expires=${expires}`}`;
    const answer = await browser.request(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body });
    expect(answer.status).toBe(400);
    expect(textOf(await answer.text())).toContain(reason);
    expect(await t.hub.db.prisma.apiKey.count()).toBe(before);
  });

  it('a test key that never expires', async () => {
    const answer = await createOnPage({ name: 'ci', env: 'test', expires: '' });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toMatch(/value="nxk_test_[A-Za-z0-9_-]{43}"/);
    expect(await t.hub.db.prisma.apiKey.findFirst({ where: { userId, name: 'ci' } })).toMatchObject({ env: 'test', expiresAt: null });
  });

  it('a missing or wrong CSRF token is refused (403), without a session 401', async () => {
    const { action, fields } = parseForm((await page(browser, '/account/keys')).body, '/account/keys');
    const before = await t.hub.db.prisma.apiKey.count();
    expect((await browser.post(action, { name: 'forged', env: 'live', expires: '7d' })).status).toBe(403);
    expect((await browser.post(action, { ...fields, csrf: 'x'.repeat(43), name: 'forged', env: 'live', expires: '7d' })).status).toBe(403);
    expect((await new Browser(t.url).post(action, { ...fields, name: 'forged', env: 'live', expires: '7d' })).status).toBe(401);
    const [mine] = await t.hub.db.prisma.apiKey.findMany({ where: { userId, revokedAt: null } });
    expect((await browser.post(`/account/keys/${mine.id}/revoke`, {})).status).toBe(403);
    expect(await t.hub.db.prisma.apiKey.count()).toBe(before);
    expect((await t.hub.db.prisma.apiKey.findUniqueOrThrow({ where: { id: mine.id } })).revokedAt).toBeNull();
  });

  it('hostile bodies and wrong methods never answer 5xx', async () => {
    const { fields } = parseForm((await page(browser, '/account/keys')).body, '/account/keys');
    const csrf = encodeURIComponent(fields.csrf);
    const raw = (method: string, path: string, body?: string, type = 'application/x-www-form-urlencoded') => browser.request(path, { method, headers: { 'content-type': type }, ...(body === undefined ? {} : { body }) });
    const answers = await Promise.all([
      raw('POST', '/account/keys', `csrf=${csrf}&name=a&name=b&env=live&expires=7d`),
      raw('POST', '/account/keys', `csrf=${csrf}&name[a]=1&env[]=live&expires=7d`),
      raw('POST', '/account/keys', `csrf=${csrf}&name=%ED%A0%80&env=%00&expires=%FF`),
      raw('POST', '/account/keys', `csrf=${csrf}&name=${'x'.repeat(100_000)}`),
      raw('POST', '/account/keys', JSON.stringify({ csrf: fields.csrf, name: 1 }), 'application/json'),
      raw('POST', '/account/keys/%ZZ/revoke', `csrf=${csrf}`),
      raw('POST', `/account/keys/${'%00'.repeat(300)}/revoke`, `csrf=${csrf}`),
      raw('PUT', '/account/keys'),
      raw('DELETE', '/account/keys/00000000-0000-4000-8000-000000000000'),
      raw('GET', '/account/keys/00000000-0000-4000-8000-000000000000/revoke'),
      raw('GET', `/account/keys?revoked=${'1'.repeat(5000)}&revoked=1`),
    ]);
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status >= 500), `statuses: ${statuses}`).toEqual([]);
  });
});

describe('how many keys one user may hold', () => {
  it(`at most ${MAX_USABLE_KEYS} in use: one more is refused with a clear message; revoked and expired keys do not count`, async () => {
    const owner = await createUser(t, 'many@example.com', 'Many');
    const many = new Browser(t.url);
    await signInToAccount(many, 'many@example.com', '/account/keys');
    // Revoked and expired keys are history, not keys in use.
    await apiKeys.revoke((await apiKeys.create({ userId: owner.id, name: 'old', env: 'live' })).info.id);
    const expired = await apiKeys.create({ userId: owner.id, name: 'expired', env: 'live' });
    await t.hub.db.prisma.apiKey.update({ where: { id: expired.info.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    for (let i = 0; i < MAX_USABLE_KEYS - 8 - 1; i++) await apiKeys.create({ userId: owner.id, name: `k${i}`, env: 'test' });
    // 8 on the page one after the other fill the budget... (MAX - 1 in use after them)
    for (let i = 0; i < 8; i++) expect((await createOnPage({ name: `page-${i}`, env: 'test', expires: '7d' }, many)).status).toBe(200);
    const usable = () => t.hub.db.prisma.apiKey.count({ where: { userId: owner.id, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] } });
    expect(await usable()).toBe(MAX_USABLE_KEYS - 1);

    // ...and 8 parallel creations behind a barrier: exactly one gets the last place.
    const { action, fields } = parseForm((await page(many, '/account/keys')).body, '/account/keys');
    const answers = await together(8, (i) => many.post(action, { ...fields, name: `race-${i}`, env: 'live', expires: '30d' }));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);
    expect(await usable()).toBe(MAX_USABLE_KEYS);
    const refused = answers.find((answer) => answer.status === 409)!;
    expect(textOf(await refused.text())).toContain(`You already have ${MAX_USABLE_KEYS} API keys in use, the most one account may hold: revoke one you no longer need first.`);

    // Revoking one makes room again.
    const [first] = await t.hub.db.prisma.apiKey.findMany({ where: { userId: owner.id, name: 'k0' } });
    const revoke = parseForm((await page(many, '/account/keys')).body, `/account/keys/${first.id}/revoke`);
    expect((await many.post(revoke.action, revoke.fields)).status).toBe(303);
    expect((await createOnPage({ name: 'after-revoke', env: 'test', expires: '7d' }, many)).status).toBe(200);
  });
});
