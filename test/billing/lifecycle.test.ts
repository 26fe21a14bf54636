// A subscription's life after checkout, driven by signed Stripe webhooks: plan changes up and
// down show in the next tokens, cancelation returns the user to free and takes back the projects
// the plan granted (never an administrator's grants), a failed payment keeps the plan while
// past due, and every change leaves a subscription.changed row in the event log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, Browser, parseForm } from '../support/browser.js';
import { checkoutSession, deliver, event, invoice, subscription, type StripeTestEvent } from './events.js';
import {
  billingToken, createUser, eventRows, page, PASSWORD, PROJECTS, refresh, Session, signIn, scopesOf, startBillingHub, textOf, type BillingHub,
} from './support.js';

let h: BillingHub;
beforeAll(async () => {
  h = await startBillingHub();
});
afterAll(() => h?.stop());

async function send(stripeEvent: StripeTestEvent, outcome = 'applied') {
  const delivered = await deliver(h.t.url, stripeEvent);
  expect(delivered.status, delivered.text).toBe(200);
  expect(delivered.body).toEqual({ received: true, outcome });
}

async function grantsOf(userId: string) {
  const rows = await h.t.hub.db.prisma.projectAccess.findMany({ where: { userId }, orderBy: { project: 'asc' } });
  return rows.map(({ project, role, source, grantedAt }) => ({ project, role, source, grantedAt }));
}

/** A Liminal sign-in in a fresh browser: the no-access page (403) for a user without access. */
async function liminalSignInRefused(email: string) {
  const result = await authorize(new Browser(h.t.url), {
    clientId: PROJECTS.liminal.id, redirectUri: PROJECTS.liminal.callback, email, password: PASSWORD, scope: 'openid liminal:read',
  });
  expect(result.code).toBeNull();
  expect(result.response.status).toBe(403);
  expect(textOf(result.body)).toContain('You don’t have access to Liminal 2.0');
}

describe('plan changes and cancelation (customer.subscription.*)', () => {
  const EMAIL = 'dora@example.com';
  let userId: string;
  let customer: string;
  let sales: Session;
  let liminal: Session;
  let browser: Browser;
  let resonanceGrant: Awaited<ReturnType<typeof grantsOf>>[number];
  const sub = (price: string, status = 'active') => subscription({ id: 'sub_dora', customer, price, status, periodEnd: Date.UTC(2031, 5, 1) / 1000 });

  beforeAll(async () => {
    userId = (await createUser(h.t, EMAIL)).id;
    // An administrator's grant made before any billing: billing must never touch it.
    await h.access.grant(userId, 'resonance', 'admin');
    resonanceGrant = (await grantsOf(userId))[0];
    const signed = await signIn(h.t, 'sales', EMAIL);
    browser = signed.browser;
    sales = new Session(h, 'sales', signed.tokens);
    // The project starts a checkout for the user: that creates (and links) the Stripe customer.
    const checkout = await fetch(`${h.t.url}/api/billing/checkout`, {
      method: 'POST', headers: { authorization: `Bearer ${await billingToken(h.t, EMAIL)}`, 'content-type': 'application/json' }, body: JSON.stringify({ plan: 'pro' }),
    });
    expect(checkout.status).toBe(200);
    customer = h.stripe.requestsTo('POST', '/v1/customers').at(-1)!.response.id;
  });

  it('customer.subscription.created on pro: pro tokens, Liminal granted by the plan', async () => {
    await send(event('customer.subscription.created', sub('price_pro_monthly')));
    const claims = await sales.next();
    expect(claims.plan).toBe('pro');
    expect(scopesOf(claims)).toEqual(['automation', 'leads:read', 'leads:write']);
    expect((await grantsOf(userId)).find((g) => g.project === 'liminal')).toMatchObject({ role: 'user', source: 'plan' });
    liminal = new Session(h, 'liminal', (await signIn(h.t, 'liminal', EMAIL, { browser })).tokens);
    expect(await liminal.claims()).toMatchObject({ plan: 'pro', role: 'user', entitlements: { allFeatures: true, whiteLabel: false } });
  });

  it('updated to business: team appears at the next refresh, unlimited leads, white-label in Liminal', async () => {
    await send(event('customer.subscription.updated', sub('price_business_monthly')));
    expect(await h.t.hub.subscriptions.stateOf(userId)).toMatchObject({ plan: 'business', status: 'active', mrrCents: 14900 });
    const claims = await sales.next();
    expect(claims.plan).toBe('business');
    expect(scopesOf(claims)).toEqual(['automation', 'leads:read', 'leads:write', 'team']);
    expect(claims.entitlements).toEqual({ leadsPerMonth: null, automation: true, team: true });
    expect(await liminal.next()).toMatchObject({ plan: 'business', entitlements: { allFeatures: true, whiteLabel: true } });
    expect(textOf((await page(browser, '/account')).body)).toMatch(/Current plan Business Active/);
  });

  it('updated back to pro: team is gone at the next refresh', async () => {
    await send(event('customer.subscription.updated', sub('price_pro_monthly')));
    const claims = await sales.next();
    expect(claims.plan).toBe('pro');
    expect(scopesOf(claims)).toEqual(['automation', 'leads:read', 'leads:write']);
    expect(claims.entitlements).toEqual({ leadsPerMonth: 500, automation: true, team: false });
    expect(await liminal.next()).toMatchObject({ plan: 'pro', entitlements: { whiteLabel: false } });
  });

  it('deleted: back to free, Liminal taken back (refresh and new sign-in refused), the admin grant untouched', async () => {
    await send(event('customer.subscription.deleted', sub('price_pro_monthly', 'canceled')));
    expect(await h.t.hub.subscriptions.stateOf(userId)).toMatchObject({ plan: 'free', status: 'canceled', mrrCents: 0, stripeCustomerId: customer });

    const claims = await sales.next();
    expect(claims.plan).toBe('free');
    expect(scopesOf(claims)).toEqual(['leads:read', 'leads:write']);
    expect(claims.entitlements).toEqual({ leadsPerMonth: 50, automation: false, team: false });
    expect(sales.idToken().plan).toBe('free');

    // The plan grant on Liminal is gone: the Liminal session cannot refresh, a new sign-in is refused.
    const grants = await grantsOf(userId);
    expect(grants.find((g) => g.project === 'liminal')).toBeUndefined();
    const refused = await refresh(h.t, 'liminal', liminal.tokens.refresh_token);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    await liminalSignInRefused(EMAIL);

    // The administrator's grant on Resonance is exactly as it was.
    expect(grants.find((g) => g.project === 'resonance')).toEqual(resonanceGrant);
    expect(resonanceGrant).toMatchObject({ role: 'admin', source: 'admin' });
    const resonance = await signIn(h.t, 'resonance', EMAIL, { scope: 'openid offline_access resonance:read' });
    expect(await new Session(h, 'resonance', resonance.tokens).claims()).toMatchObject({ role: 'admin', plan: 'free' });

    // The account page: free, canceled, no renewal date, upgrades offered again.
    const text = textOf((await page(browser, '/account')).body);
    expect(text).toMatch(/Current plan Free Canceled/);
    expect(text).not.toContain('Renews on');
    expect(text).toContain('Upgrade to Pro');

    // An invoice for a canceled subscription changes nothing.
    await send(event('invoice.paid', invoice({ customer, subscription: 'sub_dora', paid: true })), 'ignored');
    expect(await h.t.hub.subscriptions.stateOf(userId)).toMatchObject({ plan: 'free', status: 'canceled' });
  });

  it('every change wrote a subscription.changed event row with where it came from and went to', async () => {
    const rows = await eventRows(h.t, { type: 'subscription.changed', userId });
    expect(rows.map((row) => row.data)).toEqual([
      expect.objectContaining({ source: 'stripe:customer.subscription.created', from: { plan: 'free', status: 'active' }, to: { plan: 'pro', status: 'active', effectivePlan: 'pro' }, mrrCents: 4900 }),
      expect.objectContaining({ source: 'stripe:customer.subscription.updated', from: { plan: 'pro', status: 'active' }, to: { plan: 'business', status: 'active', effectivePlan: 'business' }, mrrCents: 14900 }),
      expect.objectContaining({ source: 'stripe:customer.subscription.updated', from: { plan: 'business', status: 'active' }, to: { plan: 'pro', status: 'active', effectivePlan: 'pro' }, mrrCents: 4900 }),
      expect.objectContaining({ source: 'stripe:customer.subscription.deleted', from: { plan: 'pro', status: 'active' }, to: { plan: 'pro', status: 'canceled', effectivePlan: 'free' }, mrrCents: 0 }),
    ]);
    for (const row of rows) {
      expect(row.userId).toBe(userId);
      expect((row.data as { currentPeriodEnd: string }).currentPeriodEnd).toBe(new Date(Date.UTC(2031, 5, 1)).toISOString());
    }
    // Nothing else of billing was logged for the user (no unknown price or customer on the way);
    // her sign-ins and plan grants are identity events of their own.
    const billing = (await eventRows(h.t, { userId })).map((row) => row.type).filter((type) => !/^(user|access)\./.test(type));
    expect(billing).toEqual(rows.map(() => 'subscription.changed'));
  });
});

describe('an administrator\'s grant on a project the plan also grants', () => {
  it('survives upgrade and cancelation unchanged, and keeps admitting the user', async () => {
    const EMAIL = 'eve@example.com';
    const userId = (await createUser(h.t, EMAIL)).id;
    await h.access.grant(userId, 'liminal', 'admin');
    const [adminGrant] = await grantsOf(userId);
    expect(adminGrant).toMatchObject({ project: 'liminal', role: 'admin', source: 'admin' });

    const customer = 'cus_eve_manual';
    h.stripe.putSubscription(subscription({ id: 'sub_eve', customer, price: 'price_pro_monthly' }));
    await send(event('checkout.session.completed', checkoutSession({ userId, customer, subscription: 'sub_eve' })));
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe('pro');
    expect((await grantsOf(userId)).find((g) => g.project === 'liminal')).toEqual(adminGrant);
    const liminal = new Session(h, 'liminal', (await signIn(h.t, 'liminal', EMAIL)).tokens);
    expect(await liminal.claims()).toMatchObject({ role: 'admin', plan: 'pro' });

    await send(event('customer.subscription.deleted', subscription({ id: 'sub_eve', customer, price: 'price_pro_monthly', status: 'canceled' })));
    expect(await h.t.hub.subscriptions.stateOf(userId)).toMatchObject({ plan: 'free', status: 'canceled' });
    expect((await grantsOf(userId)).find((g) => g.project === 'liminal')).toEqual(adminGrant);
    // Still admitted to Liminal by the admin grant: the refresh works and carries the role.
    expect(await liminal.next()).toMatchObject({ role: 'admin', plan: 'free' });
  });
});

describe('a failed payment (invoice.payment_failed, invoice.paid)', () => {
  it('past_due keeps the plan and says so on the account page; a paid invoice makes it active again', async () => {
    const EMAIL = 'fay@example.com';
    const userId = (await createUser(h.t, EMAIL)).id;
    const customer = 'cus_fay_manual';
    h.stripe.putSubscription(subscription({ id: 'sub_fay', customer, price: 'price_pro_monthly', periodEnd: Date.UTC(2031, 1, 1) / 1000 }));
    await send(event('checkout.session.completed', checkoutSession({ userId, customer, subscription: 'sub_fay' })));
    const signed = await signIn(h.t, 'sales', EMAIL);
    const sales = new Session(h, 'sales', signed.tokens);
    expect((await sales.claims()).plan).toBe('pro');

    await send(event('invoice.payment_failed', invoice({ customer, subscription: 'sub_fay', paid: false, periodEnd: Date.UTC(2031, 2, 1) / 1000 })));
    expect(await h.t.hub.subscriptions.stateOf(userId)).toMatchObject({
      plan: 'pro', status: 'past_due', mrrCents: 4900, currentPeriodEnd: new Date(Date.UTC(2031, 1, 1)),
    });
    const pastDue = await sales.next();
    expect(pastDue.plan).toBe('pro');
    expect(scopesOf(pastDue)).toContain('automation');
    expect(pastDue.entitlements).toMatchObject({ leadsPerMonth: 500, automation: true });
    expect((await grantsOf(userId)).find((g) => g.project === 'liminal')).toMatchObject({ source: 'plan' });
    const text = textOf((await page(signed.browser, '/account')).body);
    expect(text).toMatch(/Current plan Pro Past due/);
    expect(text).toContain('Payment failed — update your payment method to keep your plan');

    // Paid: active again, and the invoice's period end is the new renewal date.
    await send(event('invoice.paid', invoice({ customer, subscription: 'sub_fay', paid: true, periodEnd: Date.UTC(2031, 2, 1) / 1000 })));
    expect(await h.t.hub.subscriptions.stateOf(userId)).toMatchObject({
      plan: 'pro', status: 'active', currentPeriodEnd: new Date(Date.UTC(2031, 2, 1)),
    });
    expect((await sales.next()).plan).toBe('pro');
    const after = textOf((await page(signed.browser, '/account')).body);
    expect(after).toMatch(/Current plan Pro Active/);
    expect(after).toContain('Renews on 1 March 2031');

    const rows = await eventRows(h.t, { type: 'subscription.changed', userId });
    expect(rows.map((row) => row.data)).toEqual([
      expect.objectContaining({ source: 'stripe:checkout.session.completed', to: expect.objectContaining({ plan: 'pro', status: 'active' }) }),
      expect.objectContaining({ source: 'stripe:invoice.payment_failed', from: { plan: 'pro', status: 'active' }, to: { plan: 'pro', status: 'past_due', effectivePlan: 'pro' } }),
      expect.objectContaining({ source: 'stripe:invoice.paid', from: { plan: 'pro', status: 'past_due' }, to: { plan: 'pro', status: 'active', effectivePlan: 'pro' } }),
    ]);
  });
});

describe('changing plan while subscribed (Pro → Business from the account page)', () => {
  it('moves the live subscription to the new price instead of starting a second one, and ignores a superseded subscription', async () => {
    const EMAIL = 'ivy@example.com';
    const userId = (await createUser(h.t, EMAIL)).id;
    const signed = await signIn(h.t, 'sales', EMAIL);
    const upgrade = async () => {
      const form = parseForm((await page(signed.browser, '/account')).body, '/api/billing/checkout');
      const response = await signed.browser.post(form.action, form.fields);
      expect(response.status).toBe(303);
      return { plan: form.fields.plan, location: response.headers.get('location')! };
    };

    expect((await upgrade()).plan).toBe('pro');
    const customer = h.stripe.requestsTo('POST', '/v1/customers').at(-1)!.response.id;
    h.stripe.putSubscription(subscription({ id: 'sub_ivy_pro', customer, price: 'price_pro_monthly' }));
    await send(event('checkout.session.completed', checkoutSession({ userId, customer, subscription: 'sub_ivy_pro' })));
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe('pro');
    const checkoutsBefore = h.stripe.requestsTo('POST', '/v1/checkout/sessions').length;

    // The account page offers Business: the existing subscription changes price, prorated.
    const second = await upgrade();
    expect(second.plan).toBe('business');
    expect(second.location).toBe(`${h.t.url}/account?checkout=changed`);
    expect(h.stripe.requestsTo('POST', '/v1/checkout/sessions')).toHaveLength(checkoutsBefore);
    const update = h.stripe.requestsTo('POST', '/v1/subscriptions/sub_ivy_pro').at(-1)!;
    expect(update.form['items[0][price]']).toBe('price_business_monthly');
    expect(update.form.proration_behavior).toBe('create_prorations');
    expect(await h.t.hub.subscriptions.stateOf(userId)).toMatchObject({ plan: 'business', status: 'active', mrrCents: 14900 });
    const claims = await new Session(h, 'sales', signed.tokens).next();
    expect(claims.plan).toBe('business');
    expect(scopesOf(claims)).toContain('team');

    // Stripe's own notice of that change applies cleanly.
    const updated = await deliver(h.t.url, event('customer.subscription.updated', subscription({ id: 'sub_ivy_pro', customer, price: 'price_business_monthly' })));
    expect(updated.body).toMatchObject({ outcome: 'applied' });

    // A stray older subscription of the same customer (made outside the hub) is canceled: the
    // plan the user pays for now is not touched.
    const stray = await deliver(h.t.url, event('customer.subscription.deleted', subscription({ id: 'sub_ivy_stray', customer, price: 'price_pro_monthly', status: 'canceled' })));
    expect(stray.status).toBe(200);
    expect(stray.body).toMatchObject({ outcome: 'superseded' });
    expect(await h.t.hub.subscriptions.stateOf(userId)).toMatchObject({ plan: 'business', status: 'active', mrrCents: 14900 });
  });
});
