// The group commit of POST /api/events (EmitBatcher) against a stand-in for the store's publish:
// what reaches one statement, how answers are split back, and that a refused statement costs
// only the request the store refuses. Through the hub, delivery.test.ts races 16 requests.
import { describe, expect, it } from 'vitest';
import { EmitBatcher } from '../../src/events/emit-batcher.js';
import type { Actor, NewEvent } from '../../src/events/event.js';
import type { PublishResult } from '../../src/events/store.js';

/** A publish that answers each event with an id and records every statement it was given. */
function recordingStore(options: { refuse?: (events: NewEvent[]) => boolean; delayMs?: number } = {}) {
  const statements: Array<{ source: string; actor: Actor | null; events: NewEvent[] }> = [];
  let running = 0;
  let mostAtOnce = 0;
  let next = 0;
  const publish = async (source: string, actor: Actor | null, events: NewEvent[]): Promise<PublishResult> => {
    statements.push({ source, actor, events });
    running++;
    mostAtOnce = Math.max(mostAtOnce, running);
    await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 5));
    running--;
    if (options.refuse?.(events)) throw new Error('refused by the database');
    return { events: events.map((event) => ({ id: `e${next++}`, key: event.key ?? null, sequence: next, duplicate: false })), deliveries: events.length };
  };
  return { publish, statements, mostAtOnce: () => mostAtOnce };
}

const actor: Actor = { type: 'client', id: 'sales' };
const events = (tag: string, count = 1): NewEvent[] => Array.from({ length: count }, (_, n) => ({ type: 'deal.won', data: { tag, n } }));

describe('EmitBatcher', () => {
  it('runs a lone request at once, in a statement of its own', async () => {
    const store = recordingStore();
    const result = await new EmitBatcher(store.publish).emit('sales', actor, events('alone', 2));
    expect(result.events).toHaveLength(2);
    expect(store.statements).toEqual([{ source: 'sales', actor, events: events('alone', 2) }]);
  });

  it('puts requests that wait into one statement, at most two at once, and answers each with its own events in order', async () => {
    const store = recordingStore();
    const batcher = new EmitBatcher(store.publish);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, n) => batcher.emit('sales', actor, events(`r${n}`, 3))));
    expect(store.mostAtOnce()).toBeLessThanOrEqual(2);
    expect(store.statements.length).toBeLessThan(20);
    expect(store.statements.some((statement) => statement.events.length > 3)).toBe(true);
    // Request n got ids for exactly its three events, in the order the statement stored them.
    const order = store.statements.flatMap((statement) => statement.events.map((event) => (event.data as { tag: string }).tag));
    answers.forEach((answer, n) => {
      expect(answer.events).toHaveLength(3);
      const positions = answer.events.map((event) => Number(event.id.slice(1)));
      expect(positions).toEqual([positions[0], positions[0] + 1, positions[0] + 2]);
      expect(order.indexOf(`r${n}`)).toBeGreaterThanOrEqual(0);
    });
    expect(new Set(answers.flatMap((a) => a.events.map((e) => e.id))).size).toBe(60);
  });

  it('never mixes sources or actors in one statement', async () => {
    const store = recordingStore();
    const batcher = new EmitBatcher(store.publish);
    const other: Actor = { type: 'api_key', id: 'k1' };
    await Promise.all(Array.from({ length: 24 }, (_, n) => batcher.emit(n % 3 === 0 ? 'testing' : 'sales', n % 2 ? actor : other, events(`r${n}`))));
    for (const statement of store.statements) {
      const tags = statement.events.map((event) => Number((event.data as { tag: string }).tag.slice(1)));
      expect(new Set(tags.map((n) => n % 3 === 0 ? 'testing' : 'sales'))).toEqual(new Set([statement.source]));
      expect(new Set(tags.map((n) => (n % 2 ? 'client' : 'api_key')))).toEqual(new Set([statement.actor!.type]));
    }
  });

  it('stores each request on its own when their statement is refused: only the refused request fails', async () => {
    const store = recordingStore({ refuse: (batch) => batch.some((event) => (event.data as { tag: string }).tag === 'bad') });
    const batcher = new EmitBatcher(store.publish);
    const sent = ['a', 'b', 'c', 'd', 'e', 'bad', 'f', 'g', 'h'].map((tag) => batcher.emit('sales', actor, events(tag)));
    const settled = await Promise.allSettled(sent);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect((settled[5] as PromiseRejectedResult).reason.message).toBe('refused by the database');
    // Every good event was stored exactly once in a statement that was not refused.
    const storedTags = store.statements.filter((s) => !s.events.some((e) => (e.data as { tag: string }).tag === 'bad')).flatMap((s) => s.events.map((e) => (e.data as { tag: string }).tag));
    expect(storedTags.sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });

  it('caps a statement at 1,000 events', async () => {
    const store = recordingStore();
    const batcher = new EmitBatcher(store.publish);
    await Promise.all(Array.from({ length: 30 }, (_, n) => batcher.emit('sales', actor, events(`r${n}`, 100))));
    expect(Math.max(...store.statements.map((s) => s.events.length))).toBeLessThanOrEqual(1_000);
    expect(store.statements.reduce((sum, s) => sum + s.events.length, 0)).toBe(3_000);
  });
});
