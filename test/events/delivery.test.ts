// POST /api/events and GET /api/events as a project: what is accepted and answered (single and
// batches, idempotent repeats, also when they race), per-source sequences, what is refused and
// how, who may call, and that each accepted event reaches a subscribed receiver once, signed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { addEndpoint, call, emit, projectToken, Receiver, sleep, together, type EndpointCreated } from './support.js';

const SALES_CALLBACK = 'http://localhost:3001/auth/callback';
const PASSWORD = 'correct horse battery';

let hub: TestHub;
let receiver: Receiver;
let sales: string;
let endpoint: EndpointCreated;
let userId: string;

beforeAll(async () => {
  hub = await startTestHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s,1s' });
  receiver = await Receiver.start();
  sales = await projectToken(hub.url, 'sales', hub.secrets.sales);
  endpoint = await addEndpoint(hub.url, sales, receiver.url, ['deal.*', 'lead.*']);
  userId = (await hub.hub.users.create({ email: 'ada@example.com', password: PASSWORD, fullName: 'Ada' })).id;
});
afterAll(async () => {
  await hub?.stop();
  await receiver?.close();
});

describe('POST /api/events', () => {
  it('accepts one event with 202, its stored id and sequence, and delivers it signed', async () => {
    const answer = await call(hub.url, sales, 'POST', '/api/events', { type: 'deal.won', subject: userId, data: { dealId: 'single', value: 10 }, occurredAt: '2026-12-01T10:00:00Z' });
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    const [stored] = answer.body.events;
    expect(stored).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), sequence: expect.any(Number), duplicate: false });
    await receiver.waitFor(1);
    const [event] = receiver.verified(endpoint.secret);
    expect(event).toMatchObject({
      id: stored.id, type: 'deal.won', source: 'sales', subject: userId, sequence: stored.sequence,
      occurredAt: '2026-12-01T10:00:00.000Z', actor: { type: 'client', id: 'sales' }, data: { dealId: 'single', value: 10 },
    });
  });

  it('accepts a batch of 100 in order with increasing sequences, and refuses 101', async () => {
    const before = receiver.requests.length;
    const batch = Array.from({ length: 100 }, (_, n) => ({ type: 'lead.qualified', data: { n } }));
    const events = await emit(hub.url, sales, batch);
    expect(events).toHaveLength(100);
    for (let n = 1; n < events.length; n++) expect(events[n].sequence).toBeGreaterThan(events[n - 1].sequence);
    expect(new Set(events.map((e) => e.id)).size).toBe(100);

    const tooMany = await call(hub.url, sales, 'POST', '/api/events', [...batch, { type: 'lead.qualified' }]);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toBe('invalid_event');
    expect((await call(hub.url, sales, 'POST', '/api/events', [])).status).toBe(400);

    await receiver.waitFor(before + 100);
    await sleep(300);
    const delivered = receiver.requests.slice(before);
    expect(delivered.map((r) => r.id).sort()).toEqual(events.map((e) => e.id).sort());
    // Each event's data arrives with its own id: the batch was not shuffled between events.
    const byId = new Map(events.map((e, n) => [e.id, n]));
    for (const event of receiver.verified(endpoint.secret).slice(before)) expect((event.data as { n: number }).n).toBe(byId.get(event.id as string));
  });

  it('answers a repeated id with 200 and the first event, and delivers it once', async () => {
    const before = receiver.requests.length;
    const first = await call(hub.url, sales, 'POST', '/api/events', { type: 'deal.won', id: 'deal-42', data: { v: 1 } });
    expect(first.status).toBe(202);
    const again = await call(hub.url, sales, 'POST', '/api/events', { type: 'deal.won', id: 'deal-42', data: { v: 2 } });
    expect(again.status).toBe(200);
    expect(again.body.events[0]).toEqual({ ...first.body.events[0], duplicate: true });
    // In a batch: the new one is stored, the repeat answered as the first.
    const mixed = await call(hub.url, sales, 'POST', '/api/events', [{ type: 'deal.won', id: 'deal-42' }, { type: 'deal.won', id: 'deal-43' }, { type: 'deal.won', id: 'deal-43' }]);
    expect(mixed.status).toBe(202);
    expect(mixed.body.events.map((e: { duplicate: boolean }) => e.duplicate)).toEqual([true, false, true]);
    expect(mixed.body.events[0].id).toBe(first.body.events[0].id);
    expect(mixed.body.events[2].id).toBe(mixed.body.events[1].id);

    await receiver.waitFor(before + 2);
    await sleep(500);
    expect(receiver.ids().slice(before).sort()).toEqual([first.body.events[0].id, mixed.body.events[1].id].sort());
    const [stored] = receiver.verified(endpoint.secret).filter((e) => e.id === first.body.events[0].id);
    expect(stored.data).toEqual({ v: 1 });
  });

  it('stores one event and makes one delivery when 10 requests race with the same id', async () => {
    const before = receiver.requests.length;
    const answers = await together(10, () => call(hub.url, sales, 'POST', '/api/events', { type: 'deal.won', id: 'raced', data: { raced: true } }));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    const ids = new Set(answers.map((a) => a.body.events[0].id));
    expect(ids.size).toBe(1);
    const [id] = ids;

    const listed = await call(hub.url, sales, 'GET', '/api/events?type=deal.won&limit=1000');
    expect(listed.body.events.filter((e: { key: string }) => e.key === 'raced')).toHaveLength(1);
    await receiver.waitFor(before + 1);
    await sleep(1_000);
    expect(receiver.ids().filter((received) => received === id)).toHaveLength(1);
    const deliveries = await call(hub.url, sales, 'GET', `/api/webhooks/endpoints/${endpoint.endpoint.id}/deliveries?limit=1000`);
    expect(deliveries.body.deliveries.filter((d: { eventId: string }) => d.eventId === id)).toHaveLength(1);
  });

  it('answers 16 requests at once each with its own events, stored together, once and in order', async () => {
    const before = receiver.requests.length;
    // Each request: two events of its own, and one id that request n shares with request n+1.
    const bodies = Array.from({ length: 16 }, (_, n) => [
      { type: 'deal.won', id: `grouped-${n}`, data: { n, k: 0 } },
      { type: 'deal.won', data: { n, k: 1 } },
      { type: 'deal.won', id: `shared-${n >> 1}`, data: { n, k: 2 } },
    ]);
    const answers = await together(16, (n) => call(hub.url, sales, 'POST', '/api/events', bodies[n]));
    expect(answers.map((a) => a.status)).toEqual(Array(16).fill(202));
    const stored = answers.flatMap((a) => a.body.events as Array<{ id: string; key: string | null; sequence: number; duplicate: boolean }>);
    expect(answers.every((a) => a.body.events.length === 3)).toBe(true);
    answers.forEach((a, n) => expect(a.body.events[0].key).toBe(`grouped-${n}`));
    // Of each shared id exactly one request stored it; the other was answered with that event.
    for (let pair = 0; pair < 8; pair++) {
      const shared = [answers[2 * pair].body.events[2], answers[2 * pair + 1].body.events[2]];
      expect(shared.map((e) => e.duplicate).sort()).toEqual([false, true]);
      expect(shared[0].id).toBe(shared[1].id);
    }
    const fresh = stored.filter((e) => !e.duplicate);
    expect(fresh).toHaveLength(16 * 2 + 8);
    expect(new Set(fresh.map((e) => e.id)).size).toBe(fresh.length);
    expect(new Set(fresh.map((e) => e.sequence)).size).toBe(fresh.length);
    for (const a of answers) expect(a.body.events[1].sequence).toBeGreaterThan(a.body.events[0].sequence);

    // Stored as sent: each event's data is its own request's.
    const listed = await call(hub.url, sales, 'GET', '/api/events?type=deal.won&limit=1000');
    const byId = new Map((listed.body.events as Array<{ id: string; data: { n: number; k: number }; occurredAt: string }>).map((e) => [e.id, e]));
    answers.forEach((a, n) => [0, 1].forEach((k) => expect(byId.get(a.body.events[k].id)?.data).toEqual({ n, k })));
    // Concurrent requests shared statements: events of one transaction share its time.
    const times = new Set(fresh.map((e) => byId.get(e.id)!.occurredAt));
    expect(times.size).toBeLessThan(16);

    await receiver.waitFor(before + fresh.length);
    await sleep(500);
    expect(receiver.ids().slice(before).sort()).toEqual(fresh.map((e) => e.id).sort());
  });

  it('numbers each source on its own, increasing with every accepted event', async () => {
    const agi = await projectToken(hub.url, 'agi-safety', hub.secrets['agi-safety']);
    const salesSeq: number[] = [];
    const agiSeq: number[] = [];
    for (let n = 0; n < 5; n++) {
      salesSeq.push((await emit(hub.url, sales, { type: 'note.added' }))[0].sequence);
      agiSeq.push((await emit(hub.url, agi, { type: 'note.added' }))[0].sequence);
    }
    for (const seq of [salesSeq, agiSeq]) for (let n = 1; n < seq.length; n++) expect(seq[n]).toBeGreaterThan(seq[n - 1]);
    // agi-safety's first events start its own count, far below sales's after 100+ events.
    expect(agiSeq[0]).toBeLessThan(salesSeq[0]);
  });

  it.each([
    ['a type that is not word.word', { type: 'Deal Won' }],
    ['a one-word type', { type: 'deal' }],
    ['an over-long type', { type: `a.${'b'.repeat(120)}` }],
    ['a type that is not a string', { type: 42 }],
    ['no type', { data: {} }],
    ['a subject that is not a user id', { type: 'deal.won', subject: 'ada@example.com' }],
    ['a non-ISO occurredAt', { type: 'deal.won', occurredAt: 'yesterday' }],
    ['an impossible occurredAt', { type: 'deal.won', occurredAt: '2026-13-45T99:00:00Z' }],
    ['data that is an array', { type: 'deal.won', data: [1] }],
    ['data with a NUL', { type: 'deal.won', data: { x: '\u0000' } }],
    ['an unknown field', { type: 'deal.won', source: 'nexus' }],
    ['data over 64 KB', { type: 'deal.won', data: { blob: 'x'.repeat(64 * 1024) } }],
    ['an empty id', { type: 'deal.won', id: '' }],
  ])('refuses %s with 400 invalid_event', async (_label, event) => {
    const answer = await call(hub.url, sales, 'POST', '/api/events', event);
    expect(answer.status, JSON.stringify(answer.body)).toBe(400);
    expect(answer.body.error).toBe('invalid_event');
  });

  it('refuses a body over 2 MB with 413 and anything but JSON with 415', async () => {
    const huge = JSON.stringify(Array.from({ length: 40 }, () => ({ type: 'deal.won', data: { blob: 'x'.repeat(60_000) } })));
    expect(Buffer.byteLength(huge)).toBeGreaterThan(2 * 1024 * 1024);
    expect((await call(hub.url, sales, 'POST', '/api/events', huge)).status).toBe(413);
    const form = await call(hub.url, sales, 'POST', '/api/events', 'type=deal.won', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect((await call(hub.url, sales, 'POST', '/api/events', '{"type":"deal.won"}', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await call(hub.url, sales, 'POST', '/api/events', '{"type":', {})).status).toBe(400);
  });

  it('is refused without a token, with a user token, and with a token lacking events:write', async () => {
    const event = { type: 'deal.won' };
    expect((await call(hub.url, undefined, 'POST', '/api/events', event)).status).toBe(401);
    expect((await call(hub.url, 'not-a-token', 'POST', '/api/events', event)).status).toBe(401);

    const signedIn = await authorize(new Browser(hub.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, email: 'ada@example.com', password: PASSWORD, scope: 'openid email leads:read' });
    const tokens = await postForm(hub, '/token', 'sales', { grant_type: 'authorization_code', code: signedIn.code!, code_verifier: signedIn.verifier, redirect_uri: SALES_CALLBACK });
    expect(tokens.status, tokens.text).toBe(200);
    const asUser = await call(hub.url, tokens.body.access_token, 'POST', '/api/events', event);
    expect([401, 403]).toContain(asUser.status);

    const readOnly = await projectToken(hub.url, 'sales', hub.secrets.sales, 'events:read');
    const refused = await call(hub.url, readOnly, 'POST', '/api/events', event);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('insufficient_scope');
    expect((await call(hub.url, readOnly, 'GET', '/api/events')).status).toBe(200);
    const writeOnly = await projectToken(hub.url, 'sales', hub.secrets.sales, 'events:write');
    expect((await call(hub.url, writeOnly, 'GET', '/api/events')).status).toBe(403);
    expect((await call(hub.url, writeOnly, 'GET', '/api/webhooks/endpoints')).status).toBe(403);
  });
});

describe('GET /api/events', () => {
  it('answers only the caller\'s own source, filterable by type and sequence', async () => {
    const agi = await projectToken(hub.url, 'agi-safety', hub.secrets['agi-safety']);
    const [mine] = await emit(hub.url, agi, { type: 'paper.published', data: { title: 'x' } });
    await hub.hub.bus.emit('nexus', null, [{ type: 'user.updated', subject: userId }]);

    const agiEvents = (await call(hub.url, agi, 'GET', '/api/events?limit=1000')).body.events as Array<{ source: string; id: string; sequence: number }>;
    expect(agiEvents.length).toBeGreaterThan(0);
    expect(new Set(agiEvents.map((e) => e.source))).toEqual(new Set(['agi-safety']));
    expect(agiEvents.map((e) => e.id)).toContain(mine.id);

    const salesEvents = (await call(hub.url, sales, 'GET', '/api/events?limit=1000')).body.events as Array<{ source: string; id: string; sequence: number }>;
    expect(new Set(salesEvents.map((e) => e.source))).toEqual(new Set(['sales']));
    expect(salesEvents.map((e) => e.id)).not.toContain(mine.id);
    for (let n = 1; n < salesEvents.length; n++) expect(salesEvents[n].sequence).toBeGreaterThan(salesEvents[n - 1].sequence);

    const after = salesEvents[salesEvents.length - 3].sequence;
    const tail = (await call(hub.url, sales, 'GET', `/api/events?after=${after}`)).body.events as Array<{ sequence: number }>;
    expect(tail.map((e) => e.sequence)).toEqual(salesEvents.slice(-2).map((e) => e.sequence));
    const typed = (await call(hub.url, sales, 'GET', '/api/events?type=lead.*&limit=1000')).body.events as Array<{ type: string }>;
    expect(typed.length).toBe(100);
    expect((await call(hub.url, sales, 'GET', '/api/events?type=Bad%20Type')).status).toBe(400);
  });
});
