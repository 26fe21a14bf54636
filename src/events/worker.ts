// The delivery worker of one hub instance, in a thread of its own (delivery-thread.ts): claims
// due deliveries (deliveries.ts), sends each — a signed webhook POST, or an automation rule's
// call (made by the main thread) — and records the outcome. Woken at once
// by this instance's own events and by the hub's change notifications (the `events` topic,
// src/db/changes.ts) from other instances, and otherwise polls once a second (a notification
// can be missed, a retry falls due, a claim lapses).
import { request, type Dispatcher } from 'undici';
import type { SecretBox } from '../secrets/box.js';
import type { StoredEvent } from './event.js';
import { DeliveryQueue, type ClaimedDelivery, type Outcome } from './deliveries.js';
import { sealContext } from './endpoints.js';
import { webhookHeaders } from './signing.js';
import { describeConnectionError, excerpt } from './outbound-answer.js';
import type { Sql } from './store.js';

const POLL_MS = 1_000;
const MAX_CLAIM = 100;
/** Outcomes are recorded this long after the first of a batch ends (one statement per batch). */
const FLUSH_MS = 50;
/**
 * Claims follow one another at least this far apart unless the last one was full: under a
 * stream of events each one wakes the worker, and a claim per event (plus one per change
 * notification) cost the hub and PostgreSQL a statement each; this way a claim takes what
 * arrived in the meantime, for at most this much more latency. At 200 events/s, 50 ms (and as
 * long for the outcomes) makes a claim and a record per ~10 events: the delivery thread's CPU per
 * event fell from ~1,180 to ~730 µs against 10 and 25 ms (bench/events-profile.ts --threads),
 * for ~40 ms more latency where the target is p99 < 500 ms.
 */
const GATHER_MS = 50;

export interface WorkerOptions {
  /** Delays before the 2nd, 3rd… attempt (the Standard Webhooks schedule by default). */
  retrySchedule: number[];
  timeoutMs: number;
  /** An endpoint failing every delivery this long is disabled. */
  disableAfterMs: number;
  concurrency: number;
}

/** What one attempt found; `permanent`: trying again cannot help (no retries). */
type Attempt = Pick<Outcome, 'ok' | 'status' | 'response' | 'error'> & { permanent?: boolean };

/** Runs an automation rule for an event (automation-runner.ts); same outcome shape as a webhook. */
export type RuleRunner = (rule: string, event: StoredEvent, deliveryId: string) => Promise<Attempt>;

export interface WorkerDeps {
  pool: Sql;
  box: SecretBox;
  dispatcher: Dispatcher;
  /** Disables an endpoint that failed for too long (and emits endpoint.disabled). */
  disableEndpoint: (id: string, reason: string) => Promise<void>;
  /** Warnings only (in the delivery thread they are logged by the main thread). */
  log: { warn(fields: object, message: string): void };
  /** Told of each webhook attempt's outcome, for the hub's counters (/metrics). */
  onOutcome?: (outcome: DeliveryOutcome) => void;
}

/** What one webhook attempt came to: delivered, to be tried again, or given up. */
export const DELIVERY_OUTCOMES = ['delivered', 'retrying', 'failed'] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/** The event as receivers get it. */
export function webhookPayload(event: StoredEvent) {
  return {
    id: event.id, type: event.type, source: event.source, subject: event.subject, sequence: event.sequence,
    occurredAt: event.occurredAt, actor: event.actor, data: event.data,
  };
}

export class DeliveryWorker {
  private readonly queue: DeliveryQueue;
  private readonly inflight = new Set<Promise<void>>();
  private readonly outcomes: Outcome[] = [];
  private readonly secrets = new Map<string, string>();
  private flushing: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private fellAsleep: (() => void) | undefined;
  /** The last claim took all it asked for, or had no free slot: more may be due once a delivery ends. */
  private backlog = false;
  private lastClaim = Number.NEGATIVE_INFINITY;
  private running = false;
  private loop: Promise<void> | undefined;
  private runRules: RuleRunner | undefined;

  constructor(private readonly deps: WorkerDeps, private readonly options: WorkerOptions) {
    this.queue = new DeliveryQueue(deps.pool);
  }

  /** Starts claiming; `runRules` runs the automation rules' deliveries (without it they fail). */
  start(runRules?: RuleRunner) {
    if (this.running) return;
    this.running = true;
    this.runRules = runRules;
    this.loop = this.run();
  }

  /** Something was queued: claim now rather than at the next poll. */
  wake() {
    this.woken = true;
    this.wakeUp?.();
  }

  /**
   * Resolves when the worker next waits for news. Wakes matter only then: while it gathers,
   * claims or delivers, its next claim sees whatever was committed meanwhile anyway, so the
   * delivery thread listens for them only from here (a wake per event cost the thread a loop
   * turn each, ~10 of them per claim at 200 events/s).
   */
  asleep(): Promise<void> {
    if (this.wakeUp || !this.running) return Promise.resolve();
    return new Promise<void>((resolve) => { this.fellAsleep = resolve; });
  }

  async stop() {
    this.running = false;
    this.wake();
    this.fellAsleep?.();
    await this.loop;
    // Deliveries in flight finish (each is bounded by the timeout); what they found is recorded.
    await Promise.allSettled([...this.inflight]);
    await this.flushing;
    await this.flush();
  }

  private sleep(ms: number) {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    const asleep = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = () => {
        this.woken = false;
        done();
      };
    });
    this.fellAsleep?.();
    this.fellAsleep = undefined;
    return asleep;
  }

  private async run() {
    const leaseMs = this.options.timeoutMs + 15_000;
    while (this.running) {
      const since = performance.now() - this.lastClaim;
      if (!this.backlog && since < GATHER_MS) {
        await new Promise((resolve) => setTimeout(resolve, GATHER_MS - since));
        if (!this.running) break;
      }
      const free = this.options.concurrency - this.inflight.size;
      let claimed: ClaimedDelivery[] = [];
      if (free > 0) {
        // What was committed before a wake is what this claim sees: wakes until now are answered.
        this.woken = false;
        this.lastClaim = performance.now();
        try {
          claimed = await this.queue.claim(Math.min(free, MAX_CLAIM), leaseMs);
        } catch (error) {
          this.deps.log.warn({ err: (error as Error).message }, 'event worker could not claim deliveries; retrying');
          await this.sleep(POLL_MS);
          continue;
        }
      }
      this.backlog = free <= 0 || claimed.length === Math.min(free, MAX_CLAIM);
      for (const delivery of claimed) {
        // A freed slot is news only when work may be waiting for one; otherwise claiming again
        // at every finished delivery would cost a statement each (the queue's news comes by wake()).
        const task = this.deliver(delivery).finally(() => {
          this.inflight.delete(task);
          if (this.backlog) this.wake();
        });
        this.inflight.add(task);
      }
      // A full claim may have left more behind: go again at once. Otherwise wait for news.
      if (claimed.length === 0 || claimed.length < Math.min(free, MAX_CLAIM)) await this.sleep(POLL_MS);
      else if (this.inflight.size >= this.options.concurrency) await this.sleep(POLL_MS);
    }
  }

  private secret(sealed: string, endpointId: string): string {
    let secret = this.secrets.get(sealed);
    if (!secret) {
      secret = this.deps.box.open(sealed, sealContext(endpointId));
      if (this.secrets.size > 10_000) this.secrets.clear();
      this.secrets.set(sealed, secret);
    }
    return secret;
  }

  private retryAt(attempt: number): Date | null {
    const delay = this.options.retrySchedule[attempt - 1];
    return delay === undefined ? null : new Date(Date.now() + delay);
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const started = performance.now();
    let result: Attempt;
    try {
      result = delivery.endpoint ? await this.post(delivery) : await this.runRule(delivery);
    } catch (error) {
      result = { ok: false, error: describeConnectionError(error) };
    }
    const { permanent, ...found } = result;
    const retryAt = permanent ? null : this.retryAt(delivery.attempt);
    this.outcomes.push({ id: delivery.id, endpointId: delivery.endpoint?.id, latencyMs: performance.now() - started, retryAt, ...found });
    if (delivery.endpoint) this.deps.onOutcome?.(result.ok ? 'delivered' : retryAt ? 'retrying' : 'failed');
    this.scheduleFlush();
  }

  private async post(delivery: ClaimedDelivery) {
    const endpoint = delivery.endpoint!;
    const secrets = [this.secret(endpoint.secretSealed, endpoint.id)];
    if (endpoint.previousSecretSealed && endpoint.previousSecretUntil && new Date(endpoint.previousSecretUntil) > new Date()) {
      secrets.push(this.secret(endpoint.previousSecretSealed, endpoint.id));
    }
    const body = JSON.stringify(webhookPayload(delivery.event));
    const answer = await request(endpoint.url, {
      method: 'POST',
      dispatcher: this.deps.dispatcher,
      headers: { 'content-type': 'application/json', 'user-agent': 'Nexus-Webhooks/1.0', ...webhookHeaders(secrets, delivery.event.id, body) },
      body,
      headersTimeout: this.options.timeoutMs,
      bodyTimeout: this.options.timeoutMs,
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    const response = await excerpt(answer.body);
    const ok = answer.statusCode >= 200 && answer.statusCode < 300;
    return { ok, status: answer.statusCode, response, ...(ok ? {} : { error: `answered ${answer.statusCode}` }) };
  }

  private async runRule(delivery: ClaimedDelivery): Promise<Attempt> {
    if (!delivery.rule || !this.runRules) return { ok: false, error: 'this hub runs no automation rules' };
    return this.runRules(delivery.rule, delivery.event, delivery.id);
  }

  private scheduleFlush() {
    if (this.flushing) return;
    this.flushing = new Promise<void>((resolve) => setTimeout(resolve, FLUSH_MS)).then(() => this.flush()).finally(() => {
      this.flushing = undefined;
      if (this.outcomes.length) this.scheduleFlush();
    });
  }

  private async flush() {
    const batch = this.outcomes.splice(0);
    if (batch.length === 0) return;
    try {
      for (const id of await this.queue.record(batch, this.options.disableAfterMs)) {
        await this.deps.disableEndpoint(id, 'every delivery failed for too long');
      }
    } catch (error) {
      // Not recorded: the claims lapse and the deliveries are made again (at least once).
      this.deps.log.warn({ err: (error as Error).message, deliveries: batch.length }, 'event worker could not record delivery outcomes');
    }
  }
}
