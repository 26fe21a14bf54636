// A user's plan and subscription state, the project access it grants, and the event log of
// every change. Users without a subscription row are on the free plan.
import type { PrismaClient, Subscription } from '../generated/prisma/client.js';
import { Prisma } from '../generated/prisma/client.js';
import { DEFAULT_PLAN, isPlanId, type PlanId, type Plans } from './plans.js';
import { sqlPoolOf } from '../accounts/sql-pool.js';
import { BILLING_ACTOR, HubEvents, type Actor, type EventPublisher } from '../accounts/identity-events.js';
import { accessEvent } from '../accounts/access.js';

export type SubscriptionStatus = 'active' | 'past_due' | 'canceled';

export interface PlanState {
  plan: PlanId;
  status: SubscriptionStatus;
  currentPeriodEnd: Date | null;
  mrrCents: number;
  stripeCustomerId: string | null;
}

export interface SubscriptionChange {
  plan: PlanId;
  status: SubscriptionStatus;
  currentPeriodEnd?: Date | null;
  mrrCents?: number;
  stripeSubscriptionId?: string | null;
  stripePriceId?: string | null;
  /** Creation time of the Stripe event carrying this state (ordering guard). */
  eventAt?: Date;
  /** What caused it, for the event log: `stripe:<event type>`, `cli`, `admin`. */
  source: string;
}

export class BillingError extends Error {
  constructor(readonly code: 'unknown_plan', message: string) {
    super(message);
    this.name = 'BillingError';
  }
}

const FREE: PlanState = { plan: DEFAULT_PLAN, status: 'active', currentPeriodEnd: null, mrrCents: 0, stripeCustomerId: null };

export class Subscriptions {
  private readonly events: HubEvents;

  constructor(private readonly prisma: PrismaClient, private readonly plans: Plans, publisher?: EventPublisher) {
    this.events = new HubEvents(prisma, publisher);
  }

  /** The plan in force: a canceled subscription counts as free; past_due keeps its plan. */
  async stateOf(userId: string): Promise<PlanState> {
    // Plain SQL: every token issuance asks for the plan (see src/accounts/sql-pool.ts).
    const { rows } = await sqlPoolOf(this.prisma).query<StateRow>(
      `SELECT plan, status, current_period_end AT TIME ZONE 'UTC' AS "currentPeriodEnd", mrr_cents AS "mrrCents", stripe_customer_id AS "stripeCustomerId"
       FROM subscriptions WHERE user_id = $1`,
      [userId],
    );
    return rows[0] ? toState(rows[0]) : FREE;
  }

  async planOf(userId: string): Promise<PlanId> {
    return (await this.stateOf(userId)).plan;
  }

  /** The Stripe subscription the hub tracks for the user, when it is still live. */
  async liveStripeSubscription(userId: string): Promise<string | undefined> {
    const row = await this.prisma.subscription.findUnique({ where: { userId } });
    return row?.stripeSubscriptionId && row.status !== 'canceled' ? row.stripeSubscriptionId : undefined;
  }

  findByCustomer(customerId: string) {
    return this.prisma.subscription.findUnique({ where: { stripeCustomerId: customerId } });
  }

  /** Remembers the user's Stripe customer (created once per user). */
  async linkCustomer(userId: string, customerId: string): Promise<void> {
    await this.prisma.subscription.upsert({
      where: { userId },
      create: { userId, plan: DEFAULT_PLAN, status: 'active', stripeCustomerId: customerId },
      update: { stripeCustomerId: customerId },
    });
  }

  /**
   * Applies a new subscription state, unless a newer Stripe event was already applied (out of
   * order delivery). Updates plan-granted project access and publishes `subscription.changed`
   * (and the access events of the plan's grants), all in one transaction. Returns false when the
   * change was older than the stored state.
   */
  async apply(userId: string, change: SubscriptionChange, actor: Actor = BILLING_ACTOR): Promise<boolean> {
    if (!isPlanId(change.plan) || !this.plans.get(change.plan)) throw new BillingError('unknown_plan', `unknown plan "${change.plan}"`);
    return this.prisma.$transaction(async (tx) => {
      // Serialise changes per user: two webhooks for one user must not interleave.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`billing:${userId}`}))`;
      const current = await tx.subscription.findUnique({ where: { userId } });
      if (change.eventAt && current?.lastEventAt && change.eventAt < current.lastEventAt) return false;
      const data = {
        plan: change.plan,
        status: change.status,
        ...(change.currentPeriodEnd !== undefined ? { currentPeriodEnd: change.currentPeriodEnd } : {}),
        ...(change.mrrCents !== undefined ? { mrrCents: change.mrrCents } : {}),
        ...(change.stripeSubscriptionId !== undefined ? { stripeSubscriptionId: change.stripeSubscriptionId } : {}),
        ...(change.stripePriceId !== undefined ? { stripePriceId: change.stripePriceId } : {}),
        ...(change.eventAt ? { lastEventAt: change.eventAt } : {}),
      };
      const updated = await tx.subscription.upsert({ where: { userId }, create: { userId, ...data }, update: data });
      const effective = toState(updated).plan;
      await this.syncPlanAccess(tx, userId, effective, actor);
      await this.events.inTransaction(tx, actor, [{
        type: 'subscription.changed',
        subject: userId,
        data: {
          source: change.source,
          from: current ? { plan: current.plan, status: current.status } : { plan: DEFAULT_PLAN, status: 'active' },
          to: { plan: updated.plan, status: updated.status, effectivePlan: effective },
          currentPeriodEnd: updated.currentPeriodEnd?.toISOString() ?? null,
          mrrCents: updated.mrrCents,
        },
      }]);
      return true;
    });
  }

  /**
   * Plan-granted access follows the plan: projects it covers get a `user` grant (source plan);
   * plan grants for projects it no longer covers are removed. Grants made by an admin are left
   * as they are. Each grant made or removed is an `access.*` event, a removal published while
   * the row still exists (as ProjectAccess.revoke does).
   */
  private async syncPlanAccess(tx: Prisma.TransactionClient, userId: string, plan: PlanId, actor: Actor) {
    const covered = this.plans.projectsOf(plan);
    const lapsed = await tx.$queryRaw<Array<{ project: string; role: string }>>`
      SELECT project, role::text AS role FROM project_access
      WHERE user_id = ${userId}::uuid AND source = 'plan' AND NOT (project = ANY(${covered}::text[])) FOR UPDATE`;
    await this.events.inTransaction(tx, actor, lapsed.map((row) => accessEvent('access.revoked', userId, { project: row.project, role: row.role, source: 'plan' })));
    await tx.projectAccess.deleteMany({ where: { userId, source: 'plan', project: { in: lapsed.map((row) => row.project) } } });
    const added: string[] = [];
    for (const project of covered) {
      // granted_at is a UTC timestamp without time zone (as Prisma writes it).
      const inserted = await tx.$queryRaw<unknown[]>`
        INSERT INTO project_access (user_id, project, role, source, granted_at)
        VALUES (${userId}::uuid, ${project}, 'user', 'plan', now() AT TIME ZONE 'UTC')
        ON CONFLICT (user_id, project) DO NOTHING RETURNING 1`;
      if (inserted.length) added.push(project);
    }
    await this.events.inTransaction(tx, actor, added.map((project) => accessEvent('access.granted', userId, { project, role: 'user', source: 'plan' })));
  }

  /** Records something Stripe told us that changed no subscription (unknown customer, ...). */
  async recordEvent(type: string, userId: string | null, data: Record<string, unknown>): Promise<void> {
    await this.events.alone(BILLING_ACTOR, [{ type, subject: userId, data }]);
  }
}

type StateRow = Pick<Subscription, 'plan' | 'status' | 'currentPeriodEnd' | 'mrrCents' | 'stripeCustomerId'>;

function toState(row: StateRow): PlanState {
  const status = row.status as SubscriptionStatus;
  return {
    plan: status === 'canceled' || !isPlanId(row.plan) ? DEFAULT_PLAN : row.plan,
    status,
    currentPeriodEnd: row.currentPeriodEnd,
    mrrCents: status === 'canceled' ? 0 : row.mrrCents,
    stripeCustomerId: row.stripeCustomerId,
  };
}
