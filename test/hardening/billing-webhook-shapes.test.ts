// Validly signed Stripe events with shapes the handler does not expect (issue 8, "Never a 500"):
// each is answered 200 and recorded, never a 500 that Stripe would retry forever, and the
// subscription is left as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutSession, deliver, event, invoice, nextCreated, subscription } from '../billing/events.js';
import { createUser, eventRows, startBillingHub, type BillingHub } from '../billing/support.js';

let h: BillingHub;
let userId: string;
const CUSTOMER = 'cus_shapes';

beforeAll(async () => {
  h = await startBillingHub();
  userId = (await createUser(h.t, 'shapes@example.com')).id;
  await h.t.hub.subscriptions.linkCustomer(userId, CUSTOMER);
});
afterAll(() => h?.stop());

type Json = Record<string, unknown>;
const sub = (extra: Json = {}) => ({ ...subscription({ id: 'sub_shapes', customer: CUSTOMER }), ...extra });

describe('signed events with unexpected shapes', () => {
  const cases: Record<string, { body: () => unknown; outcome: string }> = {
    'a non-UUID client_reference_id': { body: () => event('checkout.session.completed', { ...checkoutSession({ userId, customer: CUSTOMER, subscription: null }), client_reference_id: 'not-a-uuid', metadata: {} }), outcome: 'unknown_customer' },
    'a NUL in client_reference_id': { body: () => event('checkout.session.completed', { ...checkoutSession({ userId, customer: CUSTOMER, subscription: null }), client_reference_id: 'a\u0000b' }), outcome: 'unknown_customer' },
    'a numeric client_reference_id': { body: () => event('checkout.session.completed', { ...checkoutSession({ userId, customer: CUSTOMER, subscription: null }), client_reference_id: 42 }), outcome: 'malformed' },
    'metadata as a string': { body: () => event('checkout.session.completed', { ...checkoutSession({ userId, customer: CUSTOMER, subscription: null }), client_reference_id: null, metadata: 'x' }), outcome: 'malformed' },
    'missing data': { body: () => { const e: Json = event('customer.subscription.updated', sub()); delete e.data; return e; }, outcome: 'malformed' },
    'data without object': { body: () => ({ ...event('invoice.paid', {}), data: {} }), outcome: 'malformed' },
    'items: null': { body: () => event('customer.subscription.updated', sub({ items: null })), outcome: 'malformed' },
    'items.data: a string': { body: () => event('customer.subscription.updated', sub({ items: { data: 'x' } })), outcome: 'malformed' },
    'an item without price': { body: () => event('customer.subscription.created', sub({ items: { data: [{ id: 'si_1' }] } })), outcome: 'malformed' },
    'a string period end': { body: () => event('customer.subscription.updated', sub({ items: { data: [{ id: 'si_1', price: { id: 'price_pro_monthly', unit_amount: 4900, recurring: { interval: 'month' } }, current_period_end: 'soon' }] } })), outcome: 'malformed' },
    'customer as a number': { body: () => event('customer.subscription.deleted', sub({ customer: 7 })), outcome: 'malformed' },
    'invoice lines as a string': { body: () => event('invoice.payment_failed', { ...invoice({ customer: CUSTOMER, paid: false }), lines: 'x' }), outcome: 'malformed' },
    'invoice period end as a string': { body: () => event('invoice.paid', { ...invoice({ customer: CUSTOMER, paid: true }), lines: { data: [{ period: { end: 'later' } }] } }), outcome: 'malformed' },
    'a string created': { body: () => ({ ...event('customer.subscription.updated', sub()), created: String(nextCreated()) }), outcome: 'malformed' },
    'a negative created': { body: () => ({ ...event('customer.subscription.updated', sub()), created: -1 }), outcome: 'malformed' },
    'no id': { body: () => { const e: Json = event('customer.subscription.updated', sub()); delete e.id; return e; }, outcome: 'malformed' },
    'an id with a NUL': { body: () => ({ ...event('customer.subscription.updated', sub()), id: 'evt_\u0000' }), outcome: 'malformed' },
    'an object as type': { body: () => ({ ...event('customer.subscription.updated', sub()), type: { a: 1 } }), outcome: 'malformed' },
    'an array': { body: () => [event('customer.subscription.updated', sub())], outcome: 'malformed' },
    'null': { body: () => null, outcome: 'malformed' },
    'an unknown type with no data': { body: () => { const e: Json = event('customer.tax_id.created', {}); delete e.data; return e; }, outcome: 'ignored' },
  };

  it.each(Object.keys(cases))('%s: 200, recorded, subscription unchanged', async (name) => {
    const before = await h.t.hub.subscriptions.stateOf(userId);
    const { body, outcome } = cases[name];
    const payload = body();
    const delivered = await deliver(h.t.url, payload as Json);
    expect(delivered.status, delivered.text).toBe(200);
    expect(delivered.body).toEqual({ received: true, outcome });
    expect(await h.t.hub.subscriptions.stateOf(userId)).toEqual(before);
    const id = (payload as { id?: unknown } | null)?.id;
    if (typeof id === 'string' && outcome !== 'malformed') expect(await h.t.hub.db.prisma.stripeEvent.findUnique({ where: { id } })).toMatchObject({ outcome });
  });

  it('records each malformed event with why, and a redelivery of a claimed one is a duplicate', async () => {
    const rows = await eventRows(h.t, { type: 'billing.malformed_event' });
    expect(rows.length).toBeGreaterThanOrEqual(Object.values(cases).filter((c) => c.outcome === 'malformed').length);
    expect(rows.map((row) => (row.data as { problem: string }).problem)).toContain('items.data is not a list');
    const stray = event('customer.subscription.updated', sub({ items: null }));
    expect((await deliver(h.t.url, stray)).body).toMatchObject({ outcome: 'malformed' });
    expect(await h.t.hub.db.prisma.stripeEvent.findUnique({ where: { id: stray.id } })).toMatchObject({ outcome: 'malformed' });
    expect((await deliver(h.t.url, stray)).body).toMatchObject({ outcome: 'duplicate' });
  });

  it('a Checkout whose subscription Stripe returns malformed is recorded, not a 500', async () => {
    h.stripe.putSubscription({ ...sub(), id: 'sub_broken', items: null });
    const delivered = await deliver(h.t.url, event('checkout.session.completed', checkoutSession({ userId, customer: CUSTOMER, subscription: 'sub_broken' })));
    expect(delivered.status, delivered.text).toBe(200);
    expect(delivered.body).toEqual({ received: true, outcome: 'malformed' });
  });
});
