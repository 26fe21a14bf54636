// The event bus of one hub instance: the store (the only writer of events and deliveries), the
// endpoints, the delivery queue and this instance's delivery worker. Libraries publish inside
// their own transaction (`publish`); routes that only record events `emit` them.
import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../logger.js';
import type { SecretBox } from '../secrets/box.js';
import type { Actor, NewEvent } from './event.js';
import { HUB_SOURCE } from './event.js';
import { EventStore, type PublishResult, type RulesOf, type Sql } from './store.js';
import { CHANGE_CHANNEL } from '../db/changes.js';
import { WebhookEndpoints } from './endpoints.js';
import { DeliveryQueue } from './deliveries.js';
import type { DeliveryOutcome, RuleRunner, WorkerOptions } from './worker.js';
import { DeliveryThread } from './delivery-thread.js';
import { EmitBatcher } from './emit-batcher.js';

export interface EventsConfig extends WorkerOptions {
  allowPrivateUrls: boolean;
  /** Run a delivery worker in this instance. */
  worker: boolean;
}

export interface EventBusDeps {
  prisma: PrismaClient;
  pool: Sql;
  box: SecretBox;
  log: Logger;
  projectExists: (id: string) => Promise<boolean>;
}

/**
 * Other instances are told at most this often that something was queued (they also poll every
 * second; this instance's own worker is woken directly): a notification is a statement, and at
 * 200 events/s one every 20 ms cost a visible share of the hub's CPU.
 */
const NOTIFY_EVERY_MS = 100;

export class EventBus {
  readonly store: EventStore;
  readonly endpoints: WebhookEndpoints;
  readonly deliveries: DeliveryQueue;
  private worker: DeliveryThread | undefined;
  private notifyTimer: NodeJS.Timeout | undefined;
  /** Names this instance in its notifications, so that it does not wake itself a second time. */
  readonly instance = randomUUID();
  private readonly emitter = new EmitBatcher(async (source, actor, events) => {
    const result = await this.store.publish(this.deps.pool, source, actor, events, false);
    if (result.deliveries > 0) this.queued();
    return result;
  });

  constructor(private readonly deps: EventBusDeps, private readonly config: EventsConfig) {
    this.store = new EventStore(deps.pool);
    this.endpoints = new WebhookEndpoints(deps.prisma, deps.box, this.store, { allowPrivateUrls: config.allowPrivateUrls, projectExists: deps.projectExists });
    this.deliveries = new DeliveryQueue(deps.pool);
    if (config.allowPrivateUrls) deps.log.warn('WEBHOOKS_ALLOW_PRIVATE_URLS is on: webhooks may target http, loopback and private addresses (development and tests only)');
  }

  /**
   * Starts this instance's delivery worker (with EVENT_WORKER) in a thread of its own, on its own
   * connections to `databaseUrl`, once there is something to deliver (see DeliveryThread.start);
   * `runRules` runs automation rules (on this thread: the gateway's).
   */
  start(thread: { databaseUrl: string; masterKey: Buffer }, runRules?: RuleRunner) {
    if (!this.config.worker || this.worker) return;
    const { allowPrivateUrls, retrySchedule, timeoutMs, disableAfterMs, concurrency } = this.config;
    this.worker = new DeliveryThread({
      log: this.deps.log,
      disableEndpoint: async (id, reason) => {
        await this.endpoints.setEnabled(id, false, { type: 'system', id: 'event-worker' }, {}, reason);
        this.deps.log.warn({ endpointId: id }, 'webhook endpoint disabled: every delivery failed for too long');
      },
      anyDue: () => this.deliveries.anyDue(),
    }, { ...thread, allowPrivateUrls, options: { retrySchedule, timeoutMs, disableAfterMs, concurrency } });
    this.worker.start(runRules);
  }

  /** This instance's webhook attempts by outcome since it started (all zero without a worker). */
  deliveryOutcomes(): Record<DeliveryOutcome, number> {
    return this.worker?.outcomeCounts() ?? { delivered: 0, retrying: 0, failed: 0 };
  }

  /** Deliveries were queued elsewhere (another instance, the CLI): claim now. */
  wake() {
    this.worker?.wake();
  }

  /** The automation rules that events trigger from now on (loaded after the projects are known). */
  useRules(rulesOf: RulesOf) {
    this.store.rulesOf = rulesOf;
  }

  /** Inside the caller's transaction: workers are woken when it commits. */
  publish(tx: Sql, source: string, actor: Actor | null, events: NewEvent[]): Promise<PublishResult> {
    return this.store.publish(tx, source, actor, events, true);
  }

  /**
   * Outside any transaction, committed when it answers, together with what other requests of
   * the same source emit at that moment (EmitBatcher; `deliveries` is then that statement's);
   * wakes the workers.
   */
  emit(source: string, actor: Actor | null, events: NewEvent[]): Promise<PublishResult> {
    return this.emitter.emit(source, actor, events);
  }

  /** A `webhook.test` event for one endpoint only, whatever it subscribes to. */
  async sendTest(endpointId: string, actor: Actor | null) {
    const endpoint = await this.endpoints.get(endpointId);
    const result = await this.store.publish(this.deps.pool, HUB_SOURCE, actor, [{
      type: 'webhook.test', data: { endpointId: endpoint.id, project: endpoint.project, message: 'A test event from Nexus.' },
    }], false, endpoint.id);
    this.queued();
    return result.events[0];
  }

  /** Replays (new deliveries); see DeliveryQueue.replay. */
  async replay(filter: Parameters<DeliveryQueue['replay']>[0]) {
    const ids = await this.deliveries.replay(filter);
    if (ids.length) this.queued();
    return ids;
  }

  private queued() {
    this.worker?.wake();
    if (this.notifyTimer) return;
    this.notifyTimer = setTimeout(() => void this.notifyOthers(), NOTIFY_EVERY_MS);
    this.notifyTimer.unref();
  }

  private notifyOthers() {
    clearTimeout(this.notifyTimer);
    this.notifyTimer = undefined;
    return this.deps.pool.query(`SELECT pg_notify('${CHANGE_CHANNEL}', $1)`, [`events:${this.instance}`]).catch(() => {});
  }

  async close() {
    // A CLI command that queued something closes at once: the running hubs are told now.
    if (this.notifyTimer) await this.notifyOthers();
    await this.worker?.stop();
  }
}
