// Stripe-shaped objects and events for the webhook tests, and their delivery to the hub with a
// real signature made by the stripe library (the same HMAC scheme Stripe uses).
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

export const WEBHOOK_SECRET = 'whsec_test_nexus_billing_secret';
export const API_VERSION = '2026-10-28.endive';

/** A Stripe client only for signing test payloads; it never makes a request. */
const signer = new Stripe('sk_test_signer_only');

type Json = Record<string, unknown>;

export const PRICES: Record<string, { unitAmount: number }> = {
  price_pro_monthly: { unitAmount: 4900 },
  price_business_monthly: { unitAmount: 14900 },
  price_unknown: { unitAmount: 999 },
};

let sequence = 0;
const unique = (prefix: string) => `${prefix}_${Date.now().toString(36)}${randomBytes(4).toString('hex')}${++sequence}`;

/**
 * Event creation times: strictly increasing across the test file, starting a little in the
 * past, so that events sent one after the other are also newer one after the other.
 */
let clock = Math.floor(Date.now() / 1000) - 3600;
export function nextCreated(): number {
  return ++clock;
}

export interface SubscriptionInput {
  id: string;
  customer: string;
  price?: string;
  status?: string;
  /** Epoch seconds. */
  periodEnd?: number;
  quantity?: number;
  metadata?: Record<string, string>;
}

/** A subscription object as Stripe's API and events carry it (current API: period on the item). */
export function subscription(input: SubscriptionInput): Json & { id: string } {
  const price = input.price ?? 'price_pro_monthly';
  const periodEnd = input.periodEnd ?? Math.floor(Date.now() / 1000) + 30 * 24 * 3600;
  const periodStart = periodEnd - 30 * 24 * 3600;
  return {
    id: input.id,
    object: 'subscription',
    customer: input.customer,
    status: input.status ?? 'active',
    livemode: false,
    created: periodStart,
    start_date: periodStart,
    cancel_at_period_end: false,
    canceled_at: null,
    ended_at: null,
    collection_method: 'charge_automatically',
    currency: 'usd',
    metadata: input.metadata ?? {},
    items: {
      object: 'list',
      has_more: false,
      url: `/v1/subscription_items?subscription=${input.id}`,
      data: [{
        id: `si_${input.id.replace(/^sub_/, '')}`,
        object: 'subscription_item',
        subscription: input.id,
        quantity: input.quantity ?? 1,
        current_period_start: periodStart,
        current_period_end: periodEnd,
        price: {
          id: price,
          object: 'price',
          active: true,
          currency: 'usd',
          product: `prod_${price}`,
          type: 'recurring',
          unit_amount: PRICES[price]?.unitAmount ?? 1000,
          recurring: { interval: 'month', interval_count: 1, usage_type: 'licensed' },
        },
      }],
    },
  };
}

/** A completed Checkout session (what `checkout.session.completed` carries). */
export function checkoutSession(input: { userId: string; customer: string; subscription: string | null; plan?: string }): Json {
  const id = unique('cs_test');
  return {
    id,
    object: 'checkout.session',
    mode: 'subscription',
    status: 'complete',
    payment_status: 'paid',
    livemode: false,
    client_reference_id: input.userId,
    customer: input.customer,
    subscription: input.subscription,
    metadata: { nexus_user_id: input.userId, plan: input.plan ?? 'pro' },
    url: null,
  };
}

/** An invoice (what `invoice.paid` / `invoice.payment_failed` carry). */
export function invoice(input: { customer: string; subscription?: string; price?: string; periodEnd?: number; paid: boolean }): Json {
  const price = input.price ?? 'price_pro_monthly';
  const periodEnd = input.periodEnd ?? Math.floor(Date.now() / 1000) + 30 * 24 * 3600;
  const amount = PRICES[price]?.unitAmount ?? 1000;
  return {
    id: unique('in'),
    object: 'invoice',
    customer: input.customer,
    status: input.paid ? 'paid' : 'open',
    livemode: false,
    currency: 'usd',
    amount_due: amount,
    amount_paid: input.paid ? amount : 0,
    attempt_count: 1,
    billing_reason: 'subscription_cycle',
    parent: input.subscription ? { type: 'subscription_details', subscription_details: { subscription: input.subscription } } : null,
    lines: {
      object: 'list',
      has_more: false,
      data: [{
        id: unique('il'),
        object: 'line_item',
        amount,
        currency: 'usd',
        period: { start: periodEnd - 30 * 24 * 3600, end: periodEnd },
        pricing: { type: 'price_details', price_details: { price } },
      }],
    },
  };
}

export interface StripeTestEvent extends Json {
  id: string;
  type: string;
  created: number;
  data: { object: Json };
}

export function event(type: string, object: Json, options: { id?: string; created?: number } = {}): StripeTestEvent {
  // An explicit time later than the clock moves the clock on: later events stay newer.
  if (options.created !== undefined && options.created > clock) clock = options.created;
  return {
    id: options.id ?? unique('evt'),
    object: 'event',
    api_version: API_VERSION,
    created: options.created ?? nextCreated(),
    type,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object },
  };
}

/** The Stripe-Signature header for a payload, made by the stripe library. */
export function signature(payload: string, options: { secret?: string; timestamp?: number } = {}): string {
  return signer.webhooks.generateTestHeaderString({ payload, secret: options.secret ?? WEBHOOK_SECRET, ...(options.timestamp ? { timestamp: options.timestamp } : {}) });
}

export interface Delivery {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/**
 * POSTs an event to the hub's webhook endpoint like Stripe does: the JSON body and its signature.
 * `payload` overrides the body (e.g. tampered), `header` the signature (null: no header).
 */
export async function deliver(
  hubUrl: string,
  stripeEvent: Json,
  options: { payload?: string; header?: string | null; secret?: string; timestamp?: number } = {},
): Promise<Delivery> {
  const payload = JSON.stringify(stripeEvent, null, 2);
  const header = options.header === undefined ? signature(payload, { secret: options.secret, timestamp: options.timestamp }) : options.header;
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' };
  if (header !== null) headers['stripe-signature'] = header;
  const response = await fetch(`${hubUrl}/api/webhooks/stripe`, { method: 'POST', headers, body: options.payload ?? payload });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: callers assert on status
  }
  return { status: response.status, body, text };
}
