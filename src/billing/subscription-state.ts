// Stripe subscriptions in the hub's terms: status, plan state and monthly revenue. Kept apart
// from the gateway so that code using it does not load the Stripe library (types only here).
import type Stripe from 'stripe';
import type { PlanId } from './plans.js';

type StripeSubscription = Stripe.Subscription;

const STATUS: Record<string, 'active' | 'past_due' | 'canceled'> = {
  active: 'active',
  trialing: 'active',
  past_due: 'past_due',
  unpaid: 'past_due',
  incomplete: 'past_due',
  canceled: 'canceled',
  incomplete_expired: 'canceled',
  paused: 'canceled',
};

/** Our view of a Stripe subscription that is on `plan`'s price. */
export function subscriptionState(subscription: StripeSubscription, plan: PlanId, deleted = false) {
  const status = deleted ? 'canceled' : STATUS[subscription.status] ?? 'past_due';
  const item = subscription.items.data[0];
  const periodEnd = item?.current_period_end ?? (subscription as { current_period_end?: number }).current_period_end;
  return {
    plan,
    status,
    currentPeriodEnd: periodEnd ? new Date(periodEnd * 1000) : null,
    mrrCents: status === 'canceled' ? 0 : monthlyRevenueCents(subscription),
    stripeSubscriptionId: subscription.id,
    stripePriceId: item?.price.id ?? null,
  } as const;
}

/** Monthly recurring revenue of a subscription, in cents. */
export function monthlyRevenueCents(subscription: StripeSubscription): number {
  let total = 0;
  for (const item of subscription.items.data) {
    const { unit_amount: amount, recurring } = item.price;
    if (amount === null || !recurring) continue;
    const perInterval = amount * (item.quantity ?? 1);
    const monthsPerInterval: Record<string, number> = { day: 12 / 365, week: 12 / 52, month: 1, year: 12 };
    const months = (monthsPerInterval[recurring.interval] ?? 1) * (recurring.interval_count || 1);
    total += perInterval / months;
  }
  return Math.round(total);
}
