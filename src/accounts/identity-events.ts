// What the hub's own libraries (users, access, API keys, clients, subscriptions) publish on the
// event bus: each change's event is written in the change's own transaction (a transactional
// outbox), so a change and its event are committed together or not at all.
import type { PrismaClient, User } from '../generated/prisma/client.js';
import type { Actor, NewEvent } from '../events/event.js';
import { HUB_SOURCE } from '../events/event.js';
import { EventStore, prismaSql, type Sql } from '../events/store.js';
import { sqlPoolOf } from './sql-pool.js';

export type { Actor };

/** The event bus as the libraries use it (EventBus, or an EventStore). */
export interface EventPublisher {
  publish(sql: Sql, source: string, actor: Actor | null, events: NewEvent[]): Promise<unknown>;
}

/** Who acted when the caller does not say (the hub itself: start-up seeding, scripts). */
export const SYSTEM_ACTOR: Actor = { type: 'system', id: 'nexus' };
/** Stripe and plan changes. */
export const BILLING_ACTOR: Actor = { type: 'system', id: 'billing' };

type Transaction = Parameters<typeof prismaSql>[0];

/** The hub's events of one library, published in the caller's transaction or statement. */
export class HubEvents {
  private readonly publisher: EventPublisher;
  private readonly pool: Sql;

  /**
   * Without a bus (a library built by a test or a script) the events are still stored and their
   * deliveries queued, through a store of their own: an identity change never goes unrecorded.
   */
  constructor(prisma: PrismaClient, publisher?: EventPublisher) {
    this.pool = sqlPoolOf(prisma);
    this.publisher = publisher ?? new EventStore(this.pool);
  }

  /** Inside `tx`, a Prisma interactive transaction: the events commit with the change. */
  async inTransaction(tx: Transaction, actor: Actor, events: NewEvent[]): Promise<void> {
    if (events.length) await this.publisher.publish(prismaSql(tx), HUB_SOURCE, actor, events);
  }

  /** In a statement of its own, for what is no row change of ours (a sign-in, a Stripe notice). */
  async alone(actor: Actor, events: NewEvent[]): Promise<void> {
    if (events.length) await this.publisher.publish(this.pool, HUB_SOURCE, actor, events);
  }
}

/** A user as events carry it: never the password hash. */
export function userData(user: User): Record<string, unknown> {
  return { id: user.id, email: user.email, name: user.fullName, emailVerified: user.emailVerified, disabled: user.disabledAt !== null };
}
