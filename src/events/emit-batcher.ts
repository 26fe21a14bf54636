// Events that concurrent requests of one source emit at the same moment are stored by one
// statement (group commit): a request finding this source's statements all busy waits for the
// next one, which takes every event queued by then. An idle hub adds no delay (a lone request
// runs at once); a busy one makes fewer, larger statements and commits: a single-event POST
// cost PostgreSQL a commit each, and at c=16 the hub answered at a quarter of the rate the same
// server commits single-row inserts (bench/events.ts beside pgbench).
//
// A statement stores its events together or not at all; when it fails, each request's events
// are stored again on their own, so one request the database refuses fails no other.
import type { Actor, NewEvent } from './event.js';
import type { PublishResult } from './store.js';

/**
 * Statements of one source at once. Two keep PostgreSQL busy while the next batch gathers: on
 * this 2-core machine single events at c=16 went 698/s (a statement each) → 1,348 (one at a
 * time) / 1,550 (two) / 1,314 (four) / 915 (eight), and batches of 100 at c=4 need two (one: 7,360
 * events/s, two: 11,020).
 */
const IN_FLIGHT = 2;
/** Events at most in one statement (ten requests' batches of 100). */
const MAX_EVENTS = 1_000;

type Publish = (source: string, actor: Actor | null, events: NewEvent[]) => Promise<PublishResult>;

interface Waiting {
  events: NewEvent[];
  resolve: (result: PublishResult) => void;
  reject: (error: unknown) => void;
}

interface Lane {
  key: string;
  source: string;
  actor: Actor | null;
  waiting: Waiting[];
  running: number;
}

export class EmitBatcher {
  /** By source and actor: a statement stores one source's events with one actor. */
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly publish: Publish) {}

  emit(source: string, actor: Actor | null, events: NewEvent[]): Promise<PublishResult> {
    const key = `${source}\u0000${actor ? `${actor.type}\u0000${actor.id}` : ''}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { key, source, actor, waiting: [], running: 0 };
      this.lanes.set(key, lane);
    }
    const result = new Promise<PublishResult>((resolve, reject) => lane.waiting.push({ events, resolve, reject }));
    this.pump(lane);
    return result;
  }

  private pump(lane: Lane) {
    while (lane.waiting.length > 0 && lane.running < IN_FLIGHT) {
      let count = 0;
      const batch: Waiting[] = [];
      while (lane.waiting.length > 0 && (batch.length === 0 || count + lane.waiting[0].events.length <= MAX_EVENTS)) {
        const next = lane.waiting.shift()!;
        count += next.events.length;
        batch.push(next);
      }
      lane.running++;
      void this.store(lane, batch).finally(() => {
        lane.running--;
        this.pump(lane);
      });
    }
    if (lane.running === 0 && lane.waiting.length === 0) this.lanes.delete(lane.key);
  }

  private async store(lane: Lane, batch: Waiting[]) {
    if (batch.length === 1) {
      await this.publish(lane.source, lane.actor, batch[0].events).then(batch[0].resolve, batch[0].reject);
      return;
    }
    let result: PublishResult;
    try {
      result = await this.publish(lane.source, lane.actor, batch.flatMap((waiting) => waiting.events));
    } catch {
      await Promise.all(batch.map((waiting) => this.publish(lane.source, lane.actor, waiting.events).then(waiting.resolve, waiting.reject)));
      return;
    }
    // The answers come in the order the events were given: each request takes its own run of
    // them (a key repeated by a later request of the batch is its duplicate, as it would be in
    // a statement of its own after the first).
    let from = 0;
    for (const waiting of batch) {
      const to = from + waiting.events.length;
      waiting.resolve({ events: result.events.slice(from, to), deliveries: result.deliveries });
      from = to;
    }
  }
}
