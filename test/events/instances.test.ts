// Two hub instances on one database, each with its delivery worker: in normal operation each
// delivery is made exactly once (claims are FOR UPDATE SKIP LOCKED), whichever instance
// accepted the event, and an idempotency key holds across instances.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecondInstance, startTestHub, type SecondInstance, type TestHub } from '../support/hub.js';
import { addEndpoint, call, emit, eventually, projectToken, Receiver, sleep, together } from './support.js';

const BATCHES = 6;

let first: TestHub;
let second: SecondInstance;
let receiver: Receiver;

beforeAll(async () => {
  first = await startTestHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s', WEBHOOK_CONCURRENCY: '16' });
  second = await startSecondInstance(first);
  receiver = await Receiver.start();
});
afterAll(async () => {
  await second?.stop();
  await first?.stop();
  await receiver?.close();
});

describe('two instances', () => {
  it('make each delivery exactly once', async () => {
    const token = await projectToken(first.url, 'sales', first.secrets.sales);
    const { endpoint, secret } = await addEndpoint(first.url, token, receiver.url, ['deal.*']);
    const urls = [first.url, second.url];
    // Batches of 100 through both instances at once, and single events between them.
    const batches = await together(BATCHES, (n) => emit(urls[n % 2], token, Array.from({ length: 100 }, (_, i) => ({ type: 'deal.won', data: { n, i } }))));
    const singles = await together(20, (n) => emit(urls[n % 2], token, { type: 'deal.lost', data: { n } }));
    const emitted = [...batches.flat(), ...singles.flat()].map((e) => e.id);
    expect(new Set(emitted).size).toBe(BATCHES * 100 + 20);

    await receiver.waitFor(emitted.length, 30_000);
    await sleep(1_500);
    const counts = new Map<string, number>();
    for (const id of receiver.ids()) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([...emitted].sort());
    expect([...counts.values()].filter((count) => count !== 1)).toEqual([]);
    expect(receiver.verified(secret)).toHaveLength(emitted.length);

    const { body } = await call(first.url, token, 'GET', `/api/webhooks/endpoints/${endpoint.id}/deliveries?limit=1000`);
    expect(body.deliveries).toHaveLength(emitted.length);
    expect(body.deliveries.filter((d: { status: string; attempts: number }) => d.status !== 'delivered' || d.attempts !== 1)).toEqual([]);
  }, 90_000);

  it('accept a repeated id once when the copies race through both instances', async () => {
    const token = await projectToken(first.url, 'sales', first.secrets.sales);
    const before = receiver.requests.length;
    const answers = await together(10, (n) => call([first.url, second.url][n % 2], token, 'POST', '/api/events', { type: 'deal.won', id: 'both-instances' }));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(9);
    const ids = new Set(answers.map((a) => a.body.events[0].id));
    expect(ids.size).toBe(1);
    await eventually(() => expect(receiver.requests.length).toBeGreaterThan(before), 10_000);
    await sleep(1_000);
    expect(receiver.ids().slice(before)).toEqual([...ids]);
  });
});
