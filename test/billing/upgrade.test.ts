// Upgrading end to end: a free user of the sales project opens the hub's account page, starts a
// Stripe Checkout from its form, Stripe reports the completed checkout by a signed webhook, and
// the user's next token carries the pro plan, its scopes and entitlements, and the projects the
// plan grants. Stripe is the local stand-in; the steps share one user and run in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, parseForm } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { checkoutSession, deliver, event, subscription } from './events.js';
import { STRIPE_SECRET_KEY } from './stripe-stand-in.js';
import { billingToken, createUser, page, Session, signIn, scopesOf, startBillingHub, textOf, type BillingHub } from './support.js';

let h: BillingHub;
let userId: string;
let browser: Browser;
let sales: Session;
/** The user's token for the billing API (billing:manage), as a project calling it would hold. */
let billing: string;
let customerId: string;
const EMAIL = 'ada@example.com';
// 15 January 2031, 12:00 UTC: the renewal date the account page must show.
const PERIOD_END = Date.UTC(2031, 0, 15, 12) / 1000;

beforeAll(async () => {
  h = await startBillingHub();
  userId = (await createUser(h.t, EMAIL, 'Ada Lovelace')).id;
});
afterAll(() => h?.stop());

async function api(path: string, token: string | undefined, body: unknown) {
  const response = await fetch(`${h.t.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text || '{}') as Record<string, string>, text };
}

async function userinfo(token: string) {
  const response = await fetch(`${h.t.url}/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

describe('upgrade from free to pro', () => {
  it('a new user signs in to sales on the free plan: only the free scopes and entitlements', async () => {
    const signed = await signIn(h.t, 'sales', EMAIL);
    browser = signed.browser;
    sales = new Session(h, 'sales', signed.tokens);
    billing = await billingToken(h.t, EMAIL);
    const claims = await sales.claims();
    expect(claims.sub).toBe(userId);
    expect(claims.plan).toBe('free');
    expect(scopesOf(claims)).toEqual(['leads:read', 'leads:write']);
    expect(claims.entitlements).toEqual({ leadsPerMonth: 50, automation: false, team: false });
    expect(sales.idToken().plan).toBe('free');
    expect((await userinfo(sales.tokens.access_token)).body).toMatchObject({ sub: userId, plan: 'free', email: EMAIL });
    expect(await h.t.hub.subscriptions.stateOf(userId)).toMatchObject({ plan: 'free', status: 'active', stripeCustomerId: null });
    expect(await h.t.hub.db.prisma.projectAccess.findMany({ where: { userId } })).toEqual([]);
  });

  it('/account renders with the session of the sales sign-in; its upgrade form sends the browser to Stripe Checkout', async () => {
    const account = await page(browser, '/account');
    expect(account.response.status).toBe(200);
    expect(new URL(account.url).pathname).toBe('/account');
    const text = textOf(account.body);
    expect(text).toContain(EMAIL);
    expect(text).toMatch(/Current plan Free Active/);
    expect(text).toContain('Upgrade to Pro — $49/month');
    expect(text).toContain('Upgrade to Business — $149/month');
    expect(text).not.toContain('Manage billing'); // no Stripe customer yet

    const form = parseForm(account.body, '/api/billing/checkout');
    expect(form.action).toBe('/api/billing/checkout');
    expect(form.fields).toEqual({ csrf: expect.stringMatching(/^[\w-]{20,}$/), plan: 'pro' });
    expect(h.stripe.requests).toEqual([]);

    const answer = await browser.post(form.action, form.fields);
    expect(answer.status).toBe(303);

    const customers = h.stripe.requestsTo('POST', '/v1/customers');
    const sessions = h.stripe.requestsTo('POST', '/v1/checkout/sessions');
    expect(customers).toHaveLength(1);
    expect(sessions).toHaveLength(1);
    expect(h.stripe.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/customers', 'POST /v1/checkout/sessions']);
    for (const request of h.stripe.requests) expect(request.headers.authorization).toBe(`Bearer ${STRIPE_SECRET_KEY}`);

    // The customer: created once per user, under an idempotency key that names the user.
    const [customer] = customers;
    expect(customer.headers['idempotency-key']).toBe(`nexus-customer-${userId}`);
    expect(customer.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(customer.form).toMatchObject({ email: EMAIL, name: 'Ada Lovelace', 'metadata[nexus_user_id]': userId });
    customerId = customer.response.id;
    expect(customerId).toMatch(/^cus_\d+$/);

    // The Checkout session: a subscription to pro's price for that customer, back to the hub.
    const [session] = sessions;
    expect(session.form).toMatchObject({
      mode: 'subscription',
      customer: customerId,
      client_reference_id: userId,
      'line_items[0][price]': 'price_pro_monthly',
      'line_items[0][quantity]': '1',
      'metadata[nexus_user_id]': userId,
      'metadata[plan]': 'pro',
      'subscription_data[metadata][nexus_user_id]': userId,
      'subscription_data[metadata][plan]': 'pro',
      success_url: `${h.t.url}/account?checkout=success`,
      cancel_url: `${h.t.url}/pricing?checkout=canceled`,
    });
    expect(session.body.line_items).toEqual([{ price: 'price_pro_monthly', quantity: '1' }]);
    expect(answer.headers.get('location')).toBe(session.response.url);
    expect(answer.headers.get('location')).toMatch(/^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_\d+$/);

    // The customer is remembered; the plan does not change before Stripe says it is paid.
    expect(await h.t.hub.subscriptions.stateOf(userId)).toMatchObject({ plan: 'free', stripeCustomerId: customerId });
  });

  it('a second checkout reuses the Stripe customer: no second customer is created', async () => {
    const account = await page(browser, '/account');
    const form = parseForm(account.body, '/api/billing/checkout');
    const answer = await browser.post(form.action, form.fields);
    expect(answer.status).toBe(303);
    expect(h.stripe.requestsTo('POST', '/v1/customers')).toHaveLength(1);
    const sessions = h.stripe.requestsTo('POST', '/v1/checkout/sessions');
    expect(sessions).toHaveLength(2);
    expect(sessions[1].form).toMatchObject({ customer: customerId, client_reference_id: userId, 'line_items[0][price]': 'price_pro_monthly' });
    expect(answer.headers.get('location')).toBe(sessions[1].response.url);
    expect(sessions[1].response.url).not.toBe(sessions[0].response.url);
  });

  it('a signed checkout.session.completed makes the user pro: next refresh, liminal grant, account page', async () => {
    h.stripe.putSubscription(subscription({ id: 'sub_1', customer: customerId, price: 'price_pro_monthly', periodEnd: PERIOD_END }));
    const completed = event('checkout.session.completed', checkoutSession({ userId, customer: customerId, subscription: 'sub_1' }));
    const delivered = await deliver(h.t.url, completed);
    expect(delivered.status, delivered.text).toBe(200);
    expect(delivered.body).toEqual({ received: true, outcome: 'applied' });

    // The hub fetched the subscription from Stripe (the session only names it).
    const retrieved = h.stripe.requestsTo('GET', '/v1/subscriptions/sub_1');
    expect(retrieved).toHaveLength(1);
    expect(retrieved[0].headers.authorization).toBe(`Bearer ${STRIPE_SECRET_KEY}`);

    expect(await h.t.hub.subscriptions.stateOf(userId)).toEqual({
      plan: 'pro', status: 'active', currentPeriodEnd: new Date(PERIOD_END * 1000), mrrCents: 4900, stripeCustomerId: customerId,
    });
    const row = await h.t.hub.db.prisma.subscription.findUnique({ where: { userId } });
    expect(row).toMatchObject({ stripeSubscriptionId: 'sub_1', stripePriceId: 'price_pro_monthly', lastEventAt: new Date(completed.created * 1000) });
    expect(await h.t.hub.db.prisma.stripeEvent.findUnique({ where: { id: completed.id } })).toMatchObject({ type: 'checkout.session.completed', outcome: 'applied' });

    // The next token of the sales session (no new sign-in, no new consent) is a pro token.
    const claims = await sales.next();
    expect(claims.plan).toBe('pro');
    expect(scopesOf(claims)).toEqual(['automation', 'leads:read', 'leads:write']);
    expect(scopesOf(claims)).not.toContain('team');
    expect(claims.entitlements).toEqual({ leadsPerMonth: 500, automation: true, team: false });
    expect(sales.idToken().plan).toBe('pro');
    expect((await userinfo(sales.tokens.access_token)).body).toMatchObject({ sub: userId, plan: 'pro' });

    // Pro comes with Liminal: plan grants for every project pro covers (Liminal among them, the
    // only one that needs a grant), and a Liminal sign-in in the same browser now works.
    const grants = await h.t.hub.db.prisma.projectAccess.findMany({ where: { userId }, orderBy: { project: 'asc' } });
    expect(grants.map(({ project, role, source }) => ({ project, role, source }))).toEqual(
      ['dream-people', 'liminal', 'sales', 'testing'].map((project) => ({ project, role: 'user', source: 'plan' })),
    );
    const liminal = new Session(h, 'liminal', (await signIn(h.t, 'liminal', EMAIL, { browser })).tokens);
    const liminalClaims = await liminal.claims();
    expect(liminalClaims).toMatchObject({ sub: userId, plan: 'pro', role: 'user', entitlements: { allFeatures: true, whiteLabel: false } });
    expect(scopesOf(liminalClaims)).toEqual(['liminal:read', 'liminal:write']);

    // The account page shows the plan, its renewal, the remaining upgrade and billing management.
    const account = await page(browser, '/account?checkout=success');
    const text = textOf(account.body);
    expect(text).toContain('Thanks! Your plan will update in a moment.');
    expect(text).toMatch(/Current plan Pro Active/);
    expect(text).toContain('Renews on 15 January 2031');
    expect(text).not.toContain('Upgrade to Pro');
    expect(text).toContain('Upgrade to Business');
    expect(text).toContain('Manage billing');
    expect(parseForm(account.body, '/api/billing/checkout').fields.plan).toBe('business');
  });

  it('the customer portal: from the account page (303) and for a project with the access token (JSON)', async () => {
    const account = await page(browser, '/account');
    const form = parseForm(account.body, '/api/billing/portal');
    expect(Object.keys(form.fields)).toEqual(['csrf']);
    const answer = await browser.post(form.action, form.fields);
    expect(answer.status).toBe(303);
    const portals = h.stripe.requestsTo('POST', '/v1/billing_portal/sessions');
    expect(portals).toHaveLength(1);
    expect(portals[0].form).toEqual({ customer: customerId, return_url: `${h.t.url}/account` });
    expect(answer.headers.get('location')).toBe(portals[0].response.url);
    expect(answer.headers.get('location')).toMatch(/^https:\/\/billing\.stripe\.test\/p\/session\/\d+$/);

    const viaApi = await api('/api/billing/portal', billing, {});
    expect(viaApi.status, viaApi.text).toBe(200);
    expect(viaApi.body).toEqual({ url: expect.stringMatching(/^https:\/\/billing\.stripe\.test\/p\/session\/\d+$/) });
    expect(h.stripe.requestsTo('POST', '/v1/billing_portal/sessions')).toHaveLength(2);
  });

  it('a project changes the plan with the user\'s access token and JSON: the user confirms on the hub, the live subscription moves, no second checkout', async () => {
    const checkouts = h.stripe.requestsTo('POST', '/v1/checkout/sessions').length;
    /** The project's request, then the user's confirmation on the hub page it answered with. */
    const changeTo = async (plan: string) => {
      const answer = await api('/api/billing/checkout', billing, { plan });
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body.url.startsWith(`${h.t.url}/billing/confirm?`)).toBe(true);
      expect(await h.t.hub.subscriptions.planOf(userId)).not.toBe(plan);
      const form = parseForm((await page(browser, answer.body.url)).body, '/billing/confirm');
      const confirmed = await browser.post(form.action, form.fields);
      expect(confirmed.status).toBe(303);
      expect(confirmed.headers.get('location')).toBe(`${h.t.url}/account?checkout=changed`);
    };
    await changeTo('business');
    expect(h.stripe.requestsTo('POST', '/v1/checkout/sessions')).toHaveLength(checkouts);
    const update = h.stripe.requestsTo('POST', /^\/v1\/subscriptions\//).at(-1)!;
    expect(update.form).toMatchObject({ 'items[0][price]': 'price_business_monthly', proration_behavior: 'create_prorations', 'metadata[plan]': 'business' });
    expect(h.stripe.requestsTo('POST', '/v1/customers')).toHaveLength(1);
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe('business');

    // And back, so the next tests start from Pro again.
    await changeTo('pro');
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe('pro');
  });

  it('refuses checkouts without a user, without a valid form, or for plans that cannot be bought online; none reaches Stripe', async () => {
    const before = h.stripe.requests.length;

    expect(await api('/api/billing/checkout', 'not-a-jwt', { plan: 'pro' })).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    // A client's own token (client credentials) has no user behind it.
    const own = await postForm(h.t, '/token', 'sales', { grant_type: 'client_credentials', scope: 'leads:read' });
    expect(own.status, own.text).toBe(200);
    expect(await api('/api/billing/checkout', own.body.access_token, { plan: 'pro' })).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(await api('/api/billing/checkout', undefined, { plan: 'pro' })).toMatchObject({ status: 401, body: { error: 'login_required' } });

    expect(await api('/api/billing/checkout', billing, { plan: 'gold' })).toMatchObject({ status: 400, body: { error: 'invalid_plan' } });
    expect(await api('/api/billing/checkout', billing, { plan: 'enterprise' })).toMatchObject({ status: 400, body: { error: 'not_purchasable' } });
    expect(await api('/api/billing/checkout', billing, { plan: 'free' })).toMatchObject({ status: 400, body: { error: 'not_purchasable' } });

    // The browser path needs the page's CSRF token.
    const account = await page(browser, '/account');
    const form = parseForm(account.body, '/api/billing/checkout');
    const forged = await browser.post(form.action, { plan: 'business' });
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ error: 'invalid_csrf' });
    const wrong = await browser.post(form.action, { plan: 'business', csrf: `${form.fields.csrf.slice(0, -2)}xx` });
    expect(wrong.status).toBe(403);
    // ...and a hub session: the same CSRF token from another browser is refused.
    const stranger = new Browser(h.t.url);
    expect((await stranger.post(form.action, form.fields)).status).toBe(401);

    // Another user with no Stripe customer has nothing to manage.
    await createUser(h.t, 'bob@example.com');
    expect(await api('/api/billing/portal', await billingToken(h.t, 'bob@example.com'), {})).toMatchObject({ status: 400, body: { error: 'no_customer' } });

    expect(h.stripe.requests.length).toBe(before);
  });
});
