// The Stripe webhook endpoint's guarantees: only correctly signed, fresh deliveries are read;
// each event is handled once (duplicates change nothing); an event older than the state already
// applied is recorded but not applied; what cannot be applied (unknown price, unknown customer)
// is answered 200 and logged; an event that fails half-way is not lost to Stripe's retry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutSession, deliver, event, invoice, nextCreated, signature, subscription, type StripeTestEvent } from './events.js';
import { createUser, eventRows, Session, signIn, scopesOf, startBillingHub, type BillingHub } from './support.js';

let h: BillingHub;
let userId: string;
let sales: Session;
const EMAIL = 'gus@example.com';
const CUSTOMER = 'cus_gus_manual';
const SUB = 'sub_gus';
const sub = (price: string, status = 'active') => subscription({ id: SUB, customer: CUSTOMER, price, status });

beforeAll(async () => {
  h = await startBillingHub();
  userId = (await createUser(h.t, EMAIL)).id;
  h.stripe.putSubscription(sub('price_pro_monthly'));
  const delivered = await deliver(h.t.url, event('checkout.session.completed', checkoutSession({ userId, customer: CUSTOMER, subscription: SUB })));
  expect(delivered.body).toEqual({ received: true, outcome: 'applied' });
  sales = new Session(h, 'sales', (await signIn(h.t, 'sales', EMAIL)).tokens);
});
afterAll(() => h?.stop());

/** Everything a delivery could change: the subscription row, the event log, the processed ids. */
async function snapshot() {
  const prisma = h.t.hub.db.prisma;
  return {
    subscription: await prisma.subscription.findUnique({ where: { userId } }),
    events: await prisma.event.findMany({ orderBy: { createdAt: 'asc' } }),
    stripeEvents: await prisma.stripeEvent.findMany({ orderBy: { receivedAt: 'asc' } }),
    access: await prisma.projectAccess.findMany({ where: { userId }, orderBy: { project: 'asc' } }),
  };
}

const changedRows = () => eventRows(h.t, { type: 'subscription.changed', userId });

describe('duplicate and out-of-order deliveries', () => {
  it('the same event delivered twice: the second answers duplicate and changes nothing', async () => {
    const rowsBefore = (await changedRows()).length;
    const upgrade = event('customer.subscription.updated', sub('price_business_monthly'));
    expect((await deliver(h.t.url, upgrade)).body).toEqual({ received: true, outcome: 'applied' });
    const afterFirst = await snapshot();
    expect(afterFirst.subscription).toMatchObject({ plan: 'business', mrrCents: 14900 });

    const again = await deliver(h.t.url, upgrade);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ received: true, outcome: 'duplicate' });
    expect(await snapshot()).toEqual(afterFirst);
    expect(await changedRows()).toHaveLength(rowsBefore + 1);
    expect(await h.t.hub.db.prisma.stripeEvent.findMany({ where: { id: upgrade.id } })).toEqual([
      expect.objectContaining({ type: 'customer.subscription.updated', outcome: 'applied', createdAt: new Date(upgrade.created * 1000) }),
    ]);
  });

  it('two concurrent deliveries of one event: one applies, the other is a duplicate', async () => {
    const rowsBefore = (await changedRows()).length;
    const downgrade = event('customer.subscription.updated', sub('price_pro_monthly'));
    const outcomes = await Promise.all([deliver(h.t.url, downgrade), deliver(h.t.url, downgrade)]);
    expect(outcomes.map((o) => o.status)).toEqual([200, 200]);
    expect(outcomes.map((o) => o.body.outcome).sort()).toEqual(['applied', 'duplicate']);
    expect(await changedRows()).toHaveLength(rowsBefore + 1);
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe('pro');
  });

  it('an event created before the last applied one answers stale and the plan stays', async () => {
    const at = nextCreated() + 1000;
    const toPro = event('customer.subscription.updated', sub('price_pro_monthly'), { created: at });
    expect((await deliver(h.t.url, toPro)).body).toEqual({ received: true, outcome: 'applied' });
    const applied = await snapshot();
    expect(applied.subscription).toMatchObject({ plan: 'pro', lastEventAt: new Date(at * 1000) });

    // Stripe delivers an older change late: business, created 100 s before the pro change.
    const late = event('customer.subscription.updated', sub('price_business_monthly'), { created: at - 100 });
    const answer = await deliver(h.t.url, late);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ received: true, outcome: 'stale' });
    const after = await snapshot();
    expect(after.subscription).toEqual(applied.subscription);
    expect(after.events).toEqual(applied.events); // no subscription.changed row for it
    expect(after.stripeEvents).toEqual([...applied.stripeEvents, expect.objectContaining({ id: late.id, outcome: 'stale' })]);

    // An older failed invoice cannot turn the newer state past_due either.
    const lateInvoice = event('invoice.payment_failed', invoice({ customer: CUSTOMER, paid: false }), { created: at - 50 });
    expect((await deliver(h.t.url, lateInvoice)).body).toEqual({ received: true, outcome: 'stale' });
    expect(await h.t.hub.subscriptions.stateOf(userId)).toMatchObject({ plan: 'pro', status: 'active' });

    const claims = await sales.next();
    expect(claims.plan).toBe('pro');
    expect(scopesOf(claims)).not.toContain('team');
  });
});

describe('signatures', () => {
  let candidate: StripeTestEvent;
  let payload: string;
  let before: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    candidate = event('customer.subscription.updated', sub('price_business_monthly'), { created: nextCreated() + 5000 });
    payload = JSON.stringify(candidate, null, 2);
    before = await snapshot();
  });

  const expectRefused = (answer: Awaited<ReturnType<typeof deliver>>) => {
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_signature' });
  };

  it('refuses a signature made with another secret', async () => {
    expectRefused(await deliver(h.t.url, candidate, { secret: 'whsec_someone_else' }));
  });

  it('refuses a tampered body under a signature of the original', async () => {
    const tampered = payload.replace('"price_business_monthly"', '"price_pro_monthly"').replace(candidate.id, `${candidate.id}x`);
    expect(tampered).not.toBe(payload);
    expectRefused(await deliver(h.t.url, candidate, { payload: tampered, header: signature(payload) }));
    // Even whitespace: Stripe signs the exact bytes.
    expectRefused(await deliver(h.t.url, candidate, { payload: `${payload}\n`, header: signature(payload) }));
  });

  it('refuses a missing or malformed Stripe-Signature header', async () => {
    expectRefused(await deliver(h.t.url, candidate, { header: null }));
    expectRefused(await deliver(h.t.url, candidate, { header: '' }));
    expectRefused(await deliver(h.t.url, candidate, { header: 'garbage' }));
    expectRefused(await deliver(h.t.url, candidate, { header: signature(payload).replace(/v1=/, 'v0=') }));
  });

  it('refuses a correct signature that is 10 minutes old (replay)', async () => {
    expectRefused(await deliver(h.t.url, candidate, { timestamp: Math.floor(Date.now() / 1000) - 600 }));
  });

  it('changed nothing; the event, correctly signed, is then applied (its id was never claimed)', async () => {
    expect(await snapshot()).toEqual(before);
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe('pro');
    // A signature 4 minutes old is still within Stripe's 5-minute tolerance.
    const answer = await deliver(h.t.url, candidate, { timestamp: Math.floor(Date.now() / 1000) - 240 });
    expect(answer.body).toEqual({ received: true, outcome: 'applied' });
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe('business');
  });
});

describe('events that cannot be applied', () => {
  it('a subscription on a price no plan maps: 200 unknown_price, plan unchanged, billing.unknown_price logged', async () => {
    const plan = await h.t.hub.subscriptions.planOf(userId);
    const before = await snapshot();
    const unknown = event('customer.subscription.updated', sub('price_unknown'));
    const answer = await deliver(h.t.url, unknown);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ received: true, outcome: 'unknown_price' });
    const after = await snapshot();
    expect(after.subscription).toEqual(before.subscription);
    expect(after.access).toEqual(before.access);
    expect(await h.t.hub.subscriptions.planOf(userId)).toBe(plan);
    expect(await eventRows(h.t, { type: 'billing.unknown_price' })).toEqual([
      expect.objectContaining({ userId, data: { stripeEvent: unknown.id, type: 'customer.subscription.updated', price: 'price_unknown' } }),
    ]);
    expect(await h.t.hub.db.prisma.stripeEvent.findUnique({ where: { id: unknown.id } })).toMatchObject({ outcome: 'unknown_price' });
    expect((await sales.next()).plan).toBe(plan);
  });

  it('events for a customer no user has: 200 unknown_customer, billing.unknown_customer logged without a user', async () => {
    const before = await snapshot();
    const paid = event('invoice.paid', invoice({ customer: 'cus_nobody', paid: true }));
    expect(await deliver(h.t.url, paid)).toMatchObject({ status: 200, body: { received: true, outcome: 'unknown_customer' } });
    const updated = event('customer.subscription.updated', subscription({ id: 'sub_nobody', customer: 'cus_nobody', price: 'price_pro_monthly' }));
    expect(await deliver(h.t.url, updated)).toMatchObject({ status: 200, body: { received: true, outcome: 'unknown_customer' } });
    // A checkout for a user id the hub does not know.
    const stray = event('checkout.session.completed', checkoutSession({ userId: '00000000-0000-4000-8000-000000000000', customer: 'cus_stray', subscription: 'sub_stray' }));
    expect(await deliver(h.t.url, stray)).toMatchObject({ status: 200, body: { received: true, outcome: 'unknown_customer' } });

    expect(await eventRows(h.t, { type: 'billing.unknown_customer' })).toEqual([
      expect.objectContaining({ userId: null, data: { stripeEvent: paid.id, type: 'invoice.paid', customer: 'cus_nobody' } }),
      expect.objectContaining({ userId: null, data: { stripeEvent: updated.id, type: 'customer.subscription.updated', customer: 'cus_nobody' } }),
      expect.objectContaining({ userId: null, data: { stripeEvent: stray.id, type: 'checkout.session.completed', customer: 'cus_stray' } }),
    ]);
    const after = await snapshot();
    expect(after.subscription).toEqual(before.subscription);
    expect(await h.t.hub.db.prisma.subscription.count()).toBe(1);
    expect(h.stripe.requestsTo('GET', '/v1/subscriptions/sub_stray')).toEqual([]);
  });

  it('an event type the hub does not handle: 200 ignored', async () => {
    const other = event('customer.created', { id: 'cus_new', object: 'customer', email: 'x@example.com' });
    expect((await deliver(h.t.url, other)).body).toEqual({ received: true, outcome: 'ignored' });
  });
});

describe('an event whose processing fails', () => {
  it('is answered with an error for Stripe to retry, and applied when redelivered', async () => {
    const EMAIL2 = 'hal@example.com';
    const halId = (await createUser(h.t, EMAIL2)).id;
    // Stripe does not (yet) know the subscription the session names: the hub's GET gets a 404.
    const completed = event('checkout.session.completed', checkoutSession({ userId: halId, customer: 'cus_hal_manual', subscription: 'sub_hal' }));
    const failed = await deliver(h.t.url, completed);
    expect(failed.status).toBe(500);
    expect(failed.body).toMatchObject({ error: 'server_error' });
    expect(h.stripe.requestsTo('GET', '/v1/subscriptions/sub_hal').map((r) => r.status)).toEqual([404]);
    expect(await h.t.hub.db.prisma.stripeEvent.findUnique({ where: { id: completed.id } })).toBeNull();
    expect(await h.t.hub.subscriptions.planOf(halId)).toBe('free');

    h.stripe.putSubscription(subscription({ id: 'sub_hal', customer: 'cus_hal_manual', price: 'price_business_monthly' }));
    const retried = await deliver(h.t.url, completed);
    expect(retried.body).toEqual({ received: true, outcome: 'applied' });
    expect(await h.t.hub.subscriptions.stateOf(halId)).toMatchObject({ plan: 'business', status: 'active', stripeCustomerId: 'cus_hal_manual' });
  });
});
