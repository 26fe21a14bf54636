// "Your data" (/account/data) through a real hub with billing on (Stripe's API is the local
// stand-in): the JSON export (an attachment, no-store; everything about the user and no hash or
// secret), and deleting the account — typed confirmation and password, every live Stripe
// subscription canceled there, the user and their rows gone, `user.deleted` once, the browser
// signed out; 8 parallel deletes; nothing deleted while Stripe cannot be reached; CSRF, hostile input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm } from '../support/browser.js';
import { freePort } from '../support/process.js';
import {
  createUser, eventRows, page, PASSWORD, refresh, signIn, signInToAccount, startBillingHub, textOf, type BillingHub,
} from '../billing/support.js';
import { subscription } from '../billing/events.js';
import { STRIPE_SECRET_KEY } from '../billing/stripe-stand-in.js';
import { WEBHOOK_SECRET } from '../billing/events.js';
import { ApiKeys } from '../../src/accounts/api-keys.js';
import { sha256Hex } from '../../src/secrets/tokens.js';

let h: BillingHub;
let t: TestHub;

beforeAll(async () => {
  // 8 parallel deletes each check the password: more than the default 5 per account at once.
  h = await startBillingHub({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '50' });
  t = h.t;
});
afterAll(() => h?.stop());

/** A user on pro through Stripe (customer, live subscription in the stand-in), signed in to the account pages. */
async function payingUser(email: string, name: string) {
  const user = await createUser(t, email, name);
  const customer = `cus_${user.id.slice(0, 8)}`;
  const live = `sub_${user.id.slice(0, 8)}`;
  await t.hub.subscriptions.linkCustomer(user.id, customer);
  await t.hub.subscriptions.apply(user.id, { plan: 'pro', status: 'active', stripeSubscriptionId: live, mrrCents: 4900, source: 'test' });
  h.stripe.putSubscription(subscription({ id: live, customer }));
  const browser = new Browser(t.url);
  await signInToAccount(browser, email, '/account/data');
  return { user, customer, live, browser };
}

const deleteForm = async (browser: Browser) => parseForm((await page(browser, '/account/data')).body, '/account/delete');

describe('download my data', () => {
  const EMAIL = 'ada@example.com';
  let ada: Awaited<ReturnType<typeof payingUser>>;
  let key: string;
  let exported: Record<string, any>;
  let raw: string;

  beforeAll(async () => {
    ada = await payingUser(EMAIL, 'Ada Lovelace');
    await h.access.grant(ada.user.id, 'resonance', 'admin');
    key = (await new ApiKeys(t.hub.db.prisma).create({ userId: ada.user.id, name: 'notebook', env: 'live' })).key;
    const prisma = t.hub.db.prisma;
    await prisma.consent.create({ data: { userId: ada.user.id, clientId: 'testing', oidcScopes: ['openid', 'email'], resourceScopes: { 'urn:nexus:testing': 'audits:read' } } });
    await prisma.hubSession.create({ data: { uid: 'uid-of-a-phone', userId: ada.user.id, userAgent: 'Mozilla/5.0 (iPhone)', ip: '192.0.2.7' } });
    await prisma.accountToken.create({ data: { userId: ada.user.id, purpose: 'verify_email', tokenHash: sha256Hex('a mailed secret'), email: EMAIL, expiresAt: new Date(Date.now() + 3_600_000) } });

    const answer = await ada.browser.get('/account/data/export');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(answer.headers.get('content-disposition')).toMatch(/^attachment; filename="nexus-account-\d{4}-\d{2}-\d{2}\.json"$/);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    raw = await answer.text();
    exported = JSON.parse(raw);
  });

  it('holds the profile, project access, subscription, API keys, sessions, consents and events', () => {
    expect(exported.profile).toMatchObject({ id: ada.user.id, email: EMAIL, name: 'Ada Lovelace', emailVerified: true, disabled: false, hasPassword: true });
    expect(exported.projectAccess).toEqual(expect.arrayContaining([
      expect.objectContaining({ project: 'resonance', role: 'admin', source: 'admin' }),
      expect.objectContaining({ project: 'liminal', role: 'user', source: 'plan' }),
    ]));
    expect(exported.subscription).toMatchObject({ plan: 'pro', status: 'active', stripeCustomerId: ada.customer, stripeSubscriptionId: ada.live, mrrCents: 4900 });
    expect(exported.apiKeys).toEqual([expect.objectContaining({ name: 'notebook', env: 'live', prefix: key.slice(0, 13), revokedAt: null })]);
    expect(exported.sessions).toEqual(expect.arrayContaining([expect.objectContaining({ userAgent: 'Mozilla/5.0 (iPhone)', ip: '192.0.2.7' })]));
    expect(exported.consents).toEqual([expect.objectContaining({ project: 'testing', scopes: ['openid', 'email'], resourceScopes: { 'urn:nexus:testing': 'audits:read' } })]);
    expect(exported.mailedLinks).toEqual([expect.objectContaining({ purpose: 'verify_email', email: EMAIL, consumedAt: null })]);
    const types = exported.events.map((event: { type: string }) => event.type);
    expect(types).toEqual(expect.arrayContaining(['user.created', 'subscription.changed', 'access.granted', 'apikey.created', 'user.signed_in']));
    // Newest first.
    expect(types[0]).toBe('apikey.created');
    expect(exported.events.every((event: { sequence: unknown }) => typeof event.sequence === 'string')).toBe(true);
  });

  it('never holds a password hash, a key or its hash, a link token\'s hash or a session id', async () => {
    const user = await t.hub.db.prisma.user.findUniqueOrThrow({ where: { id: ada.user.id } });
    for (const secret of [user.passwordHash!, key, sha256Hex(key), sha256Hex('a mailed secret'), 'uid-of-a-phone', PASSWORD]) {
      expect(raw).not.toContain(secret);
    }
    expect(raw).not.toMatch(/passwordHash|keyHash|tokenHash|sealed|"\$2[aby]\$/i);
  });

  it('carries the newest 1,000 events about the user, not the whole audit log', async () => {
    const busy = await createUser(t, 'busy@example.com', 'Busy');
    const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 1000);
    await t.hub.db.prisma.event.createMany({
      data: Array.from({ length: 1005 }, (_, i) => ({ type: 'deal.won', source: 'sales', userId: busy.id, data: { n: i }, occurredAt: at(i), createdAt: at(i) })),
    });
    const browser = new Browser(t.url);
    await signInToAccount(browser, 'busy@example.com', '/account/data');
    const { events } = await (await browser.get('/account/data/export')).json() as { events: Array<{ type: string; data: { n?: number } }> };
    expect(events).toHaveLength(1000);
    // The account's own events (created, signed in) are newer than every deal: the oldest deals are left out.
    const total = await t.hub.db.prisma.event.count({ where: { userId: busy.id } });
    expect(events[0].type).toBe('user.signed_in');
    expect(events.filter((event) => event.type === 'deal.won').map((event) => event.data.n).at(-1)).toBe(total - 1000);
  });

  it('without a hub session: the sign-in, which comes back to the download', async () => {
    const answer = await fetch(`${t.url}/account/data/export`, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/account/login?returnTo=%2Faccount%2Fdata%2Fexport');
  });
});

describe('delete my account', () => {
  const EMAIL = 'dora@example.com';
  let dora: Awaited<ReturnType<typeof payingUser>>;
  let refreshToken: string;

  beforeAll(async () => {
    dora = await payingUser(EMAIL, 'Dora');
    await new ApiKeys(t.hub.db.prisma).create({ userId: dora.user.id, name: 'script', env: 'test' });
    // A project sign-in in the same browser: its refresh token must die with the account.
    refreshToken = (await signIn(t, 'sales', EMAIL, { browser: dora.browser })).tokens.refresh_token;
    // An old subscription already over: not canceled again.
    h.stripe.putSubscription(subscription({ id: `${dora.live}_old`, customer: dora.customer, status: 'canceled' }));
  });

  it('the page: the confirmation and password fields, the export link, its CSRF token; no scripts', async () => {
    const shown = await page(dora.browser, '/account/data');
    expect(shown.response.status).toBe(200);
    expect(shown.body).toContain('<a href="/account/data" aria-current="page">Your data</a>');
    expect(shown.body).toContain('href="/account/data/export"');
    expect(shown.body).not.toMatch(/<script/i);
    expect((await deleteForm(dora.browser)).fields).toEqual({ csrf: expect.any(String), confirm: '', password: '' });
  });

  it.each([
    ['another address', { confirm: 'someone@example.com', password: PASSWORD }, 'Type your email address, dora@example.com, to confirm.'],
    ['no confirmation', { confirm: '', password: PASSWORD }, 'Type your email address'],
    ['a wrong password', { confirm: EMAIL, password: 'not the password at all' }, 'That is not your current password.'],
    ['no password', { confirm: EMAIL, password: '' }, 'That is not your current password.'],
  ])('%s: the page again (400) with the reason; nothing deleted, nothing canceled', async (_label, values, reason) => {
    const { action, fields } = await deleteForm(dora.browser);
    const answer = await dora.browser.post(action, { ...fields, ...values });
    expect(answer.status).toBe(400);
    expect(textOf(await answer.text())).toContain(reason);
    expect(await t.hub.users.findById(dora.user.id)).not.toBeNull();
    expect(h.stripe.requestsTo('DELETE', /^\/v1\/subscriptions\//)).toEqual([]);
  });

  it('a missing or wrong CSRF token is refused (403), no session 401', async () => {
    const { action, fields } = await deleteForm(dora.browser);
    expect((await dora.browser.post(action, { confirm: EMAIL, password: PASSWORD })).status).toBe(403);
    expect((await dora.browser.post(action, { ...fields, csrf: `${fields.csrf.slice(0, -2)}xx`, confirm: EMAIL, password: PASSWORD })).status).toBe(403);
    expect((await new Browser(t.url).post(action, { ...fields, confirm: EMAIL, password: PASSWORD })).status).toBe(401);
    expect(await t.hub.users.findById(dora.user.id)).not.toBeNull();
  });

  it('hostile bodies and wrong methods never answer 5xx and delete nothing', async () => {
    const { fields } = await deleteForm(dora.browser);
    const csrf = encodeURIComponent(fields.csrf);
    const raw = (method: string, path: string, body?: string, type = 'application/x-www-form-urlencoded') => dora.browser.request(path, { method, headers: { 'content-type': type }, ...(body === undefined ? {} : { body }) });
    const answers = await Promise.all([
      raw('POST', '/account/delete', `csrf=${csrf}&confirm=${EMAIL}&confirm=${EMAIL}&password=x`),
      raw('POST', '/account/delete', `csrf=${csrf}&confirm=dora%00@example.com&password=%00`),
      raw('POST', '/account/delete', `csrf=${csrf}&confirm=%ED%A0%80&password=%FF%FE`),
      raw('POST', '/account/delete', `csrf=${csrf}&confirm[]=${EMAIL}&password[a]=1`),
      raw('POST', '/account/delete', `csrf=${csrf}&confirm=${'x'.repeat(7000)}&password=${'y'.repeat(1000)}`),
      raw('POST', '/account/delete', `csrf=${csrf}&confirm=${'x'.repeat(100_000)}`),
      raw('POST', '/account/delete', JSON.stringify({ csrf: fields.csrf, confirm: EMAIL, password: PASSWORD }), 'application/json'),
      raw('GET', '/account/delete'),
      raw('DELETE', '/account/delete'),
      raw('POST', '/account/data/export', `csrf=${csrf}`),
      raw('PUT', '/account/data'),
      raw('GET', `/account/data/export?format=${'%00'.repeat(500)}`),
    ]);
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status >= 500), `statuses: ${statuses}`).toEqual([]);
    expect(statuses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
    expect(await t.hub.users.findById(dora.user.id)).not.toBeNull();
  });

  it('deletes: Stripe cancels the live subscription, the rows go, user.deleted once, the browser is signed out', async () => {
    const oldCookie = dora.browser.cookieHeader();
    const { action, fields } = await deleteForm(dora.browser);
    const answer = await dora.browser.post(action, { ...fields, confirm: ' Dora@Example.com ', password: PASSWORD });
    expect(answer.status).toBe(200);
    expect(textOf(await answer.text())).toContain('Your account was deleted');
    expect(answer.headers.getSetCookie().some((cookie) => /^_session=;/.test(cookie))).toBe(true);

    // Stripe: the live subscription canceled (once), the one already over left alone.
    expect(h.stripe.requestsTo('DELETE', /^\/v1\/subscriptions\//).map((r) => r.path)).toEqual([`/v1/subscriptions/${dora.live}`]);
    expect(h.stripe.subscriptions.get(dora.live)).toMatchObject({ status: 'canceled' });

    const prisma = t.hub.db.prisma;
    const userId = dora.user.id;
    expect(await prisma.user.findUnique({ where: { id: userId } })).toBeNull();
    expect(await Promise.all([
      prisma.apiKey.count({ where: { userId } }), prisma.projectAccess.count({ where: { userId } }), prisma.subscription.count({ where: { userId } }),
      prisma.consent.count({ where: { userId } }), prisma.hubSession.count({ where: { userId } }), prisma.accountToken.count({ where: { userId } }),
      prisma.oidcPayload.count({ where: { accountId: userId } }),
    ])).toEqual([0, 0, 0, 0, 0, 0, 0]);
    // Nor does any oidc-provider record (interaction, grant, session...) name the user in its payload.
    const left = await prisma.$queryRaw<Array<{ model: string }>>`SELECT model FROM oidc_payloads WHERE payload::text LIKE ${`%${userId}%`}`;
    expect(left).toEqual([]);
    const deleted = await eventRows(t, { type: 'user.deleted', userId });
    expect(deleted).toEqual([expect.objectContaining({ actor: { type: 'user', id: userId }, data: expect.objectContaining({ email: EMAIL }) })]);

    // The old session cookie reaches nothing; the project's refresh token is dead.
    const withOldCookie = await fetch(`${t.url}/account`, { headers: { cookie: oldCookie }, redirect: 'manual' });
    expect(withOldCookie.status).toBe(302);
    expect(withOldCookie.headers.get('location')).toMatch(/^\/account\/login/);
    expect((await refresh(t, 'sales', refreshToken)).status).toBe(400);
    // And the address can sign up again as a new account.
    expect((await t.hub.users.create({ email: EMAIL, password: PASSWORD })).id).not.toBe(userId);
  });

  it('8 parallel deletes behind a barrier: one user.deleted, every answer clean (the deleted page or 401), no 5xx', async () => {
    const eve = await payingUser('eve@example.com', 'Eve');
    const { action, fields } = await deleteForm(eve.browser);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const posts = Array.from({ length: 8 }, () => gate.then(() => eve.browser.post(action, { ...fields, confirm: 'eve@example.com', password: PASSWORD })));
    release();
    const answers = await Promise.all(posts);
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.every((status) => status === 200 || status === 401), `statuses: ${statuses}`).toBe(true);
    expect(statuses).toContain(200);
    expect(await t.hub.users.findById(eve.user.id)).toBeNull();
    expect(await eventRows(t, { type: 'user.deleted', userId: eve.user.id })).toHaveLength(1);
    expect(h.stripe.subscriptions.get(eve.live)).toMatchObject({ status: 'canceled' });
    // Each cancel either canceled it or found it canceled already (Stripe's resource_missing).
    expect(h.stripe.requestsTo('DELETE', `/v1/subscriptions/${eve.live}`).filter((r) => r.status === 200)).toHaveLength(1);
  });
});

describe('while Stripe cannot be reached', () => {
  let down: TestHub;
  afterAll(() => down?.stop());

  it('nothing is deleted: the page says so (503, try again), the account and its subscription stay', async () => {
    down = await startTestHub({ STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_URL: `http://127.0.0.1:${await freePort()}` });
    const user = await createUser(down, 'frank@example.com', 'Frank');
    await down.hub.subscriptions.linkCustomer(user.id, 'cus_frank');
    const browser = new Browser(down.url);
    await signInToAccount(browser, 'frank@example.com', '/account/data');
    const { action, fields } = await deleteForm(browser);
    const answer = await browser.post(action, { ...fields, confirm: 'frank@example.com', password: PASSWORD });
    expect(answer.status).toBe(503);
    expect(textOf(await answer.text())).toContain('nothing was deleted. Please try again in a moment.');
    expect(await down.hub.users.findById(user.id)).not.toBeNull();
    expect(await eventRows(down, { type: 'user.deleted' })).toEqual([]);
    expect((await page(browser, '/account')).response.status).toBe(200);
  }, 60_000);
});
