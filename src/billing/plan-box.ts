// The plan box of the account page: the plan in force, its status and renewal, and what the user
// may do from there (upgrade to a plan that can be bought online, manage billing at Stripe).
import type { Billing } from './billing.js';
import { PLAN_ORDER } from './plans.js';
import type { Subscriptions } from './subscriptions.js';

/** A price as the pages print it: $49, $12.50, or Custom for a plan sold by agreement. */
export function money(cents: number | null) {
  return cents === null ? 'Custom' : `$${(cents / 100).toFixed(cents % 100 ? 2 : 0)}`;
}

/** What views/account.ejs needs for the plan box of `userId`. */
export async function planBox(billing: Billing, subscriptions: Subscriptions, userId: string) {
  const state = await subscriptions.stateOf(userId);
  const current = billing.plans.get(state.plan)!;
  const rank = PLAN_ORDER.indexOf(state.plan);
  const upgrades = billing.plans.all()
    .filter((plan) => PLAN_ORDER.indexOf(plan.id) > rank && plan.stripePriceIds.length > 0)
    .map((plan) => ({ id: plan.id, name: plan.name, price: money(plan.monthlyPriceCents) }));
  return {
    plan: { id: current.id, name: current.name },
    status: state.status,
    renewal: state.currentPeriodEnd && state.status !== 'canceled'
      ? state.currentPeriodEnd.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }) : null,
    configured: billing.configured,
    canManage: Boolean(state.stripeCustomerId),
    checkoutAction: '/api/billing/checkout',
    portalAction: '/api/billing/portal',
    upgrades,
  };
}
