// Stripe webhook events turned into subscription state. Idempotent (each event id is handled
// once), safe against out-of-order delivery (an event older than the stored state is recorded
// but not applied), and never loses an event: whatever cannot be applied is recorded with why.
import type { PrismaClient } from '../generated/prisma/client.js';
import { Prisma } from '../generated/prisma/client.js';
import type { Logger } from '../logger.js';
import type { Plans } from './plans.js';
import type { StripeEvent, StripeGateway, StripeSubscription } from './stripe-gateway.js';
import { subscriptionState } from './subscription-state.js';
import { envelopeProblem, payloadProblem, subscriptionProblem } from './event-shape.js';
import { isUuid } from '../db/ids.js';
import type { SubscriptionStatus, Subscriptions } from './subscriptions.js';

export type WebhookOutcome =
  | 'applied' | 'duplicate' | 'stale' | 'superseded' | 'ignored' | 'unknown_customer' | 'unknown_price' | 'malformed';

const idOf = (value: string | { id: string } | null | undefined) => (typeof value === 'string' ? value : value?.id);

export class StripeWebhooks {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly subscriptions: Subscriptions,
    private readonly plans: Plans,
    private readonly stripe: StripeGateway,
    private readonly log: Logger,
  ) {}

  /** Handles a verified event once. Returns what happened, for the response and the log. */
  async handle(event: StripeEvent): Promise<WebhookOutcome> {
    // Without a usable id, type and time the event cannot even be claimed: recorded only.
    const envelope = envelopeProblem(event);
    if (envelope) return this.malformed(event, envelope);
    // Claim the event id first: of two concurrent deliveries only one gets past this insert.
    try {
      await this.prisma.stripeEvent.create({
        data: { id: event.id, type: event.type, createdAt: new Date(event.created * 1000), outcome: 'processing' },
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') return 'duplicate';
      throw error;
    }
    let outcome: WebhookOutcome;
    try {
      const problem = payloadProblem(event.type, event.data);
      outcome = problem ? await this.malformed(event, problem) : await this.process(event);
    } catch (error) {
      // Let Stripe's retry process it again.
      await this.prisma.stripeEvent.delete({ where: { id: event.id } }).catch(() => {});
      throw error;
    }
    await this.prisma.stripeEvent.update({ where: { id: event.id }, data: { outcome } });
    this.log.info({ stripeEvent: event.id, type: event.type, outcome }, 'stripe webhook handled');
    return outcome;
  }

  private async process(event: StripeEvent): Promise<WebhookOutcome> {
    const at = new Date(event.created * 1000);
    switch (event.type) {
      case 'checkout.session.completed': {
        const session = event.data.object;
        const userId = session.client_reference_id ?? session.metadata?.nexus_user_id;
        const customerId = idOf(session.customer);
        if (!userId || !isUuid(userId) || !customerId || !(await this.prisma.user.findUnique({ where: { id: userId } }))) {
          return this.unknownCustomer(event, customerId);
        }
        await this.subscriptions.linkCustomer(userId, customerId);
        const subscriptionId = idOf(session.subscription);
        if (!subscriptionId) return 'applied';
        const retrieved = await this.stripe.retrieveSubscription(subscriptionId);
        const problem = subscriptionProblem(retrieved);
        if (problem) return this.malformed(event, `the subscription Stripe returned: ${problem}`);
        return this.applySubscription(event, retrieved, at, userId);
      }
      case 'customer.subscription.created':
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted':
        return this.applySubscription(event, event.data.object, at);
      case 'invoice.paid':
      case 'invoice.payment_failed': {
        const invoice = event.data.object;
        const customerId = idOf(invoice.customer);
        const row = customerId ? await this.subscriptions.findByCustomer(customerId) : null;
        if (!row) return this.unknownCustomer(event, customerId);
        const status: SubscriptionStatus = event.type === 'invoice.paid' ? 'active' : 'past_due';
        // An invoice changes the payment status, never the plan; a canceled subscription stays so.
        if (row.status === 'canceled') return 'ignored';
        const periodEnd = invoice.lines?.data?.[0]?.period?.end;
        const applied = await this.subscriptions.apply(row.userId, {
          plan: row.plan as never, status, eventAt: at, source: `stripe:${event.type}`,
          ...(periodEnd && status === 'active' ? { currentPeriodEnd: new Date(periodEnd * 1000) } : {}),
        });
        return applied ? 'applied' : 'stale';
      }
      default:
        return 'ignored';
    }
  }

  private async applySubscription(event: StripeEvent, subscription: StripeSubscription, at: Date, knownUserId?: string): Promise<WebhookOutcome> {
    const customerId = idOf(subscription.customer);
    const row = customerId ? await this.subscriptions.findByCustomer(customerId) : null;
    const userId = knownUserId ?? row?.userId;
    if (!userId) return this.unknownCustomer(event, customerId);

    const deleted = event.type === 'customer.subscription.deleted';
    // A customer can hold a subscription the hub no longer tracks (replaced by a newer one):
    // its cancellation or lapse must not end the plan the user pays for now.
    const tracked = row?.stripeSubscriptionId;
    const live = !deleted && ['active', 'trialing', 'past_due', 'unpaid'].includes(subscription.status);
    if (tracked && tracked !== subscription.id && row?.status !== 'canceled' && !live) {
      this.log.info({ stripeEvent: event.id, subscription: subscription.id, tracked }, 'event for a superseded subscription ignored');
      return 'superseded';
    }

    const priceId = subscription.items.data[0]?.price.id;
    const plan = priceId ? this.plans.planForPrice(priceId) : undefined;
    if (!plan) {
      this.log.error({ stripeEvent: event.id, price: priceId, userId }, 'Stripe price is not mapped to a plan in the plans file; subscription not changed');
      await this.subscriptions.recordEvent('billing.unknown_price', userId, { stripeEvent: event.id, type: event.type, price: priceId ?? null });
      return 'unknown_price';
    }
    const applied = await this.subscriptions.apply(userId, { ...subscriptionState(subscription, plan, deleted), eventAt: at, source: `stripe:${event.type}` });
    if (!applied) this.log.info({ stripeEvent: event.id, userId }, 'older Stripe event ignored: a newer state is already applied');
    return applied ? 'applied' : 'stale';
  }

  /** An event whose shape the handler cannot use: recorded with why, answered 200 (no retries). */
  private async malformed(event: StripeEvent, problem: string): Promise<WebhookOutcome> {
    // Only values that passed the envelope check are stored: anything else may be any JSON.
    const id = envelopeProblem(event) ? null : event.id;
    const type = id ? event.type : null;
    this.log.warn({ stripeEvent: id, type, problem }, 'Stripe event with an unexpected shape; recorded, not applied');
    await this.subscriptions.recordEvent('billing.malformed_event', null, { stripeEvent: id, type, problem });
    return 'malformed';
  }

  private async unknownCustomer(event: StripeEvent, customerId: string | undefined): Promise<WebhookOutcome> {
    this.log.warn({ stripeEvent: event.id, type: event.type, customer: customerId ?? null }, 'Stripe event for a customer no Nexus user has; recorded, not applied');
    await this.subscriptions.recordEvent('billing.unknown_customer', null, { stripeEvent: event.id, type: event.type, customer: customerId ?? null });
    return 'unknown_customer';
  }
}
