// Who may call the billing API with a Bearer token (issue 8, item 1): only a first-party project
// with the billing:manage scope, from a sign-in that is still alive; and a plan change of a live
// subscription happens only once the user confirms it on the hub's /billing/confirm page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { authorize, Browser, parseForm } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { checkoutSession, deliver, event, subscription } from '../billing/events.js';
import { createUser, page, PASSWORD, SALES_SCOPE, signIn, startBillingHub, textOf, type BillingHub } from '../billing/support.js';

const BILLING = 'billing:manage';
const SHELTER = { id: 'shelter', callback: 'http://localhost:3006/auth/callback' };

let h: BillingHub;
beforeAll(async () => {
  h = await startBillingHub();
});
afterAll(() => h?.stop());

async function api(path: string, token: string, body: unknown = {}) {
  const response = await fetch(`${h.t.url}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text || '{}') as Record<string, string>, text, challenge: response.headers.get('www-authenticate') };
}

/** A token of the third-party `shelter` project for `email`, through the real login and consent pages. */
async function shelterToken(email: string, scope: string) {
  const login = await authorize(new Browser(h.t.url), { clientId: SHELTER.id, redirectUri: SHELTER.callback, email, password: PASSWORD, scope });
  expect(login.code, login.body.slice(0, 500)).toBeTruthy();
  const tokens = await postForm(h.t, '/token', SHELTER.id, { grant_type: 'authorization_code', code: login.code!, code_verifier: login.verifier, redirect_uri: SHELTER.callback });
  expect(tokens.status, tokens.text).toBe(200);
  return tokens.body.access_token as string;
}

const scopeOf = (token: string) => String(decodeJwt(token).scope ?? '').split(' ');

describe('Bearer calls to /api/billing/*', () => {
  it('refuse a third-party project\'s token (openid only, or asking for billing:manage) with 403 insufficient_scope; nothing reaches Stripe', async () => {
    await createUser(h.t, 'tp@example.com');
    const before = h.stripe.requests.length;
    for (const scope of ['openid', `openid ${BILLING}`]) {
      const token = await shelterToken('tp@example.com', scope);
      expect(scopeOf(token)).not.toContain(BILLING);
      for (const path of ['/api/billing/checkout', '/api/billing/portal']) {
        const answer = await api(path, token, { plan: 'pro' });
        expect(answer.status, `${scope} ${path}: ${answer.text}`).toBe(403);
        expect(answer.body.error).toBe('insufficient_scope');
        expect(answer.challenge).toContain('insufficient_scope');
      }
    }
    expect(h.stripe.requests.length).toBe(before);
  });

  it('refuse a first-party token without billing:manage (403) and accept one with it', async () => {
    await createUser(h.t, 'fp@example.com');
    const without = await signIn(h.t, 'sales', 'fp@example.com', { scope: SALES_SCOPE });
    expect(scopeOf(without.tokens.access_token)).not.toContain(BILLING);
    expect(await api('/api/billing/checkout', without.tokens.access_token, { plan: 'pro' })).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });

    const withScope = await signIn(h.t, 'sales', 'fp@example.com', { scope: `${SALES_SCOPE} ${BILLING}`, browser: without.browser });
    expect(scopeOf(withScope.tokens.access_token)).toContain(BILLING);
    const checkout = await api('/api/billing/checkout', withScope.tokens.access_token, { plan: 'pro' });
    expect(checkout.status, checkout.text).toBe(200);
    expect(checkout.body.url).toMatch(/^https:\/\/checkout\.stripe\.test\//);
    expect((await api('/api/billing/portal', withScope.tokens.access_token)).status).toBe(200);

    // Client credentials never carry it: the project acts for itself, not for a user.
    const machine = await postForm(h.t, '/token', 'sales', { grant_type: 'client_credentials', scope: `leads:read ${BILLING}` });
    expect(machine.status, machine.text).toBe(200);
    expect(scopeOf(machine.body.access_token)).not.toContain(BILLING);
  });

  it('refuse the token of a disabled user and of a revoked grant with 401, like /me', async () => {
    await createUser(h.t, 'gone@example.com');
    const disabled = await signIn(h.t, 'sales', 'gone@example.com', { scope: `${SALES_SCOPE} ${BILLING}` });
    expect((await api('/api/billing/portal', disabled.tokens.access_token)).status).not.toBe(401);
    await h.t.hub.users.disable('gone@example.com');
    for (const path of ['/api/billing/checkout', '/api/billing/portal']) {
      expect(await api(path, disabled.tokens.access_token, { plan: 'pro' })).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    }

    await createUser(h.t, 'revoked@example.com');
    const revoked = await signIn(h.t, 'sales', 'revoked@example.com', { scope: `${SALES_SCOPE} ${BILLING}` });
    const revocation = await postForm(h.t, '/token/revocation', 'sales', { token: revoked.tokens.refresh_token, token_type_hint: 'refresh_token' });
    expect(revocation.status).toBe(200);
    const me = await fetch(`${h.t.url}/me`, { headers: { authorization: `Bearer ${revoked.tokens.access_token}` } });
    expect(me.status).toBe(401);
    for (const path of ['/api/billing/checkout', '/api/billing/portal']) {
      expect(await api(path, revoked.tokens.access_token, { plan: 'pro' })).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    }
  });
});

describe('a project changing the plan of a live subscription', () => {
  const EMAIL = 'sub@example.com';
  let userId: string;
  let signed: Awaited<ReturnType<typeof signIn>>;
  let token: string;

  beforeAll(async () => {
    userId = (await createUser(h.t, EMAIL)).id;
    signed = await signIn(h.t, 'sales', EMAIL, { scope: `${SALES_SCOPE} ${BILLING}` });
    token = signed.tokens.access_token;
    expect((await api('/api/billing/checkout', token, { plan: 'pro' })).status).toBe(200);
    const customer = h.stripe.requestsTo('POST', '/v1/customers').at(-1)!.response.id;
    h.stripe.putSubscription(subscription({ id: 'sub_confirm', customer, price: 'price_pro_monthly' }));
    expect((await deliver(h.t.url, event('checkout.session.completed', checkoutSession({ userId, customer, subscription: 'sub_confirm' })))).body).toMatchObject({ outcome: 'applied' });
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe('pro');
  });

  const stripeUpdates = () => h.stripe.requestsTo('POST', '/v1/subscriptions/sub_confirm').length;

  it('gets the hub\'s confirmation URL (8 calls at once), and the plan stays as it is', async () => {
    const updates = stripeUpdates();
    const checkouts = h.stripe.requestsTo('POST', '/v1/checkout/sessions').length;
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => { release = resolve; });
    const calls = Array.from({ length: 8 }, async () => {
      await barrier;
      return api('/api/billing/checkout', token, { plan: 'business' });
    });
    release();
    for (const answer of await Promise.all(calls)) {
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body.url.startsWith(`${h.t.url}/billing/confirm?`)).toBe(true);
    }
    expect(stripeUpdates()).toBe(updates);
    expect(h.stripe.requestsTo('POST', '/v1/checkout/sessions')).toHaveLength(checkouts);
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe('pro');
  });

  it('the page shows old and new plan and price; only its POST (session + CSRF) changes the plan', async () => {
    const { url } = (await api('/api/billing/checkout', token, { plan: 'business' })).body;
    const updates = stripeUpdates();

    // Another signed-in user cannot use the link; a signed-out browser is sent to sign in.
    await createUser(h.t, 'other@example.com');
    const other = await signIn(h.t, 'sales', 'other@example.com');
    expect((await other.browser.get(url)).status).toBe(400);
    const anonymous = await new Browser(h.t.url).get(url);
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get('location')).toMatch(/^\/account\/login\?returnTo=%2Fbilling%2Fconfirm%3F/);

    // A tampered link is refused.
    const tampered = new URL(url);
    tampered.searchParams.set('plan', 'enterprise');
    expect((await signed.browser.get(tampered.toString())).status).toBe(400);
    tampered.searchParams.set('plan', 'business');
    tampered.searchParams.set('expires', String(Number(tampered.searchParams.get('expires')) + 3600));
    expect((await signed.browser.get(tampered.toString())).status).toBe(400);

    const confirm = await page(signed.browser, url);
    expect(confirm.response.status).toBe(200);
    expect(textOf(confirm.body)).toContain('Pro ($49/month) → Business ($149/month)');
    const form = parseForm(confirm.body, '/billing/confirm');
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe('pro');

    // Without the page's CSRF token, or from another session, nothing happens.
    expect((await signed.browser.post(form.action, { ...form.fields, csrf: '' })).status).toBe(403);
    expect((await other.browser.post(form.action, form.fields)).status).toBe(403);
    expect((await new Browser(h.t.url).post(form.action, form.fields)).status).toBe(401);
    expect(stripeUpdates()).toBe(updates);

    const done = await signed.browser.post(form.action, form.fields);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`${h.t.url}/account?checkout=changed`);
    const update = h.stripe.requestsTo('POST', '/v1/subscriptions/sub_confirm').at(-1)!;
    expect(update.form).toMatchObject({ 'items[0][price]': 'price_business_monthly', proration_behavior: 'create_prorations' });
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe('business');
  });
});
