// The Stripe calls the hub makes, in one place: customers, Checkout, the customer portal,
// subscriptions, and webhook signature checks (on the raw body, with the stripe library).
import Stripe from 'stripe';
import type { Plan } from './plans.js';

export interface StripeSettings {
  secretKey: string;
  webhookSecret: string | undefined;
  /** Alternative API base (a local stand-in in tests): http://127.0.0.1:12111. */
  apiUrl: string | undefined;
}

export type StripeEvent = Stripe.Event;
export type StripeSubscription = Stripe.Subscription;

export class StripeGateway {
  private readonly stripe: Stripe;

  constructor(private readonly settings: StripeSettings) {
    const api = settings.apiUrl ? new URL(settings.apiUrl) : undefined;
    this.stripe = new Stripe(settings.secretKey, {
      maxNetworkRetries: 2,
      timeout: 20_000,
      telemetry: false,
      ...(api ? { host: api.hostname, port: api.port || (api.protocol === 'https:' ? 443 : 80), protocol: api.protocol.replace(':', '') as 'http' | 'https' } : {}),
    });
  }

  async createCustomer(user: { id: string; email: string; name: string | null }): Promise<string> {
    const customer = await this.stripe.customers.create(
      { email: user.email, name: user.name ?? undefined, metadata: { nexus_user_id: user.id } },
      // Two clicks on "upgrade" must not create two customers.
      { idempotencyKey: `nexus-customer-${user.id}` },
    );
    return customer.id;
  }

  async createCheckout(input: { customerId: string; userId: string; plan: Plan; successUrl: string; cancelUrl: string }): Promise<string> {
    const session = await this.stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: input.customerId,
      client_reference_id: input.userId,
      line_items: [{ price: input.plan.stripePriceIds[0], quantity: 1 }],
      metadata: { nexus_user_id: input.userId, plan: input.plan.id },
      subscription_data: { metadata: { nexus_user_id: input.userId, plan: input.plan.id } },
      success_url: input.successUrl,
      cancel_url: input.cancelUrl,
    });
    if (!session.url) throw new Error('Stripe returned a Checkout session without a URL');
    return session.url;
  }

  async createPortal(customerId: string, returnUrl: string): Promise<string> {
    const session = await this.stripe.billingPortal.sessions.create({ customer: customerId, return_url: returnUrl });
    return session.url;
  }

  /**
   * Moves a live subscription to another price, prorated: the way to change plan for someone
   * who already pays (a second Checkout would start a second subscription, billed twice).
   */
  async changePrice(subscriptionId: string, plan: Plan): Promise<StripeSubscription> {
    const current = await this.stripe.subscriptions.retrieve(subscriptionId);
    const item = current.items.data[0];
    if (!item) throw new Error(`subscription ${subscriptionId} has no item`);
    return this.stripe.subscriptions.update(subscriptionId, {
      items: [{ id: item.id, price: plan.stripePriceIds[0] }],
      proration_behavior: 'create_prorations',
      metadata: { ...current.metadata, plan: plan.id },
    });
  }

  /**
   * Cancels at once every subscription of the customer that is not over yet (the account is
   * going). Stripe answers `resource_missing` for one that is already canceled (a parallel
   * request, or the customer did it meanwhile): that one is done too.
   */
  async cancelSubscriptionsOf(customerId: string): Promise<string[]> {
    const canceled: string[] = [];
    for await (const subscription of this.stripe.subscriptions.list({ customer: customerId, status: 'all', limit: 100 })) {
      if (subscription.status === 'canceled' || subscription.status === 'incomplete_expired') continue;
      try {
        await this.stripe.subscriptions.cancel(subscription.id, {}, { idempotencyKey: `nexus-cancel-${subscription.id}` });
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'resource_missing') throw error;
      }
      canceled.push(subscription.id);
    }
    return canceled;
  }

  retrieveSubscription(id: string): Promise<StripeSubscription> {
    return this.stripe.subscriptions.retrieve(id);
  }

  get webhooksConfigured(): boolean {
    return Boolean(this.settings.webhookSecret);
  }

  /** Verifies `Stripe-Signature` over the exact raw body; throws when it does not match or is stale. */
  verifyWebhook(rawBody: Buffer, signature: string): StripeEvent {
    if (!this.settings.webhookSecret) throw new Error('STRIPE_WEBHOOK_SECRET is not set');
    return this.stripe.webhooks.constructEvent(rawBody, signature, this.settings.webhookSecret, 300);
  }
}
