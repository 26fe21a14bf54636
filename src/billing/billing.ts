// Checkout and the customer portal for a signed-in user. Without STRIPE_SECRET_KEY every
// operation answers `not_configured`, and plans are set by an operator (`nexus plans set`).
import type { Users } from '../accounts/users.js';
import type { PlanId, Plans } from './plans.js';
import type { StripeGateway } from './stripe-gateway.js';
import { subscriptionState } from './subscription-state.js';
import type { Subscriptions } from './subscriptions.js';

export class BillingUnavailable extends Error {
  constructor(readonly code: 'not_configured' | 'not_purchasable' | 'no_customer' | 'not_found', message: string) {
    super(message);
    this.name = 'BillingUnavailable';
  }
}

export class Billing {
  constructor(
    private readonly users: Users,
    private readonly subscriptions: Subscriptions,
    readonly plans: Plans,
    private readonly stripe: StripeGateway | undefined,
    private readonly issuer: string,
  ) {}

  get configured(): boolean {
    return this.stripe !== undefined;
  }

  private gateway(): StripeGateway {
    if (!this.stripe) throw new BillingUnavailable('not_configured', 'billing is not configured on this hub');
    return this.stripe;
  }

  /** The Stripe customer of the user, created on first use and remembered. */
  private async customerOf(userId: string): Promise<string> {
    const state = await this.subscriptions.stateOf(userId);
    if (state.stripeCustomerId) return state.stripeCustomerId;
    const user = await this.users.findById(userId);
    if (!user) throw new BillingUnavailable('not_found', 'no such user');
    const customerId = await this.gateway().createCustomer({ id: user.id, email: user.email, name: user.fullName });
    await this.subscriptions.linkCustomer(user.id, customerId);
    return customerId;
  }

  /**
   * Where to send the user to get `planId`: Stripe Checkout for a first subscription; for a user
   * who already has a live subscription, its price is changed in place (prorated) and the
   * answer is the account page — unless `confirmFirst` is given: then nothing changes and the
   * answer is its URL (a project's call, which the user confirms on the hub before anything
   * changes).
   */
  async checkoutUrl(userId: string, planId: string, confirmFirst?: (plan: PlanId) => string): Promise<string> {
    const gateway = this.gateway();
    const plan = this.plans.get(planId);
    if (!plan || plan.stripePriceIds.length === 0) {
      throw new BillingUnavailable('not_purchasable', `the ${planId} plan cannot be bought online${planId === 'enterprise' ? ': contact sales' : ''}`);
    }
    const live = await this.subscriptions.liveStripeSubscription(userId);
    if (live && confirmFirst) return confirmFirst(plan.id);
    if (live) {
      const updated = await gateway.changePrice(live, plan);
      await this.subscriptions.apply(userId, { ...subscriptionState(updated, plan.id), source: 'checkout:change-plan' });
      return `${this.issuer}/account?checkout=changed`;
    }
    return gateway.createCheckout({
      customerId: await this.customerOf(userId),
      userId,
      plan,
      successUrl: `${this.issuer}/account?checkout=success`,
      cancelUrl: `${this.issuer}/pricing?checkout=canceled`,
    });
  }

  /**
   * Before an account is deleted: every Stripe subscription of its customer is canceled, so
   * nobody is billed for an account that is gone. Nothing to do without billing or a customer.
   */
  async cancelEverything(userId: string): Promise<string[]> {
    const { stripeCustomerId } = await this.subscriptions.stateOf(userId);
    if (!this.stripe || !stripeCustomerId) return [];
    return this.stripe.cancelSubscriptionsOf(stripeCustomerId);
  }

  async portalUrl(userId: string): Promise<string> {
    const gateway = this.gateway();
    const { stripeCustomerId } = await this.subscriptions.stateOf(userId);
    if (!stripeCustomerId) throw new BillingUnavailable('no_customer', 'there is no billing account yet: choose a plan first');
    return gateway.createPortal(stripeCustomerId, `${this.issuer}/account`);
  }
}
