// emit against a real hub: the project `emitter` (confidential, client_credentials) posts events
// to POST /api/events with a client-credentials token of the scope events:write. What the hub
// stored is read back from its database; token requests are counted on the global fetch that
// openid-client uses, to show the token is cached, shared by parallel calls and renewed once
// after a 401.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEmitter, emit, NexusHubError, type Emitter } from '@nexus/auth';
import { startTestHub, type TestHub } from '../support/hub.js';
import { closeServer } from '../support/process.js';
import { publishChange } from '../../src/db/changes.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

let t: TestHub;
let secret: string;
let subject: string;

beforeAll(async () => {
  t = await startTestHub();
  ({ secret } = await t.hub.clients.add({
    id: 'emitter', name: 'Emitter', grantTypes: ['client_credentials'], audience: 'urn:nexus:emitter', scopes: ['things:read'],
  }) as { secret: string });
  subject = (await t.hub.users.create({ email: 'grace@example.com', password: 'cobol compilers 1959' })).id;
});
afterAll(() => t?.stop());
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** Counts the requests to the hub's token endpoint from now on. */
function countTokenRequests() {
  const spy = vi.spyOn(globalThis, 'fetch');
  return () => spy.mock.calls.filter(([url]) => String(url instanceof Request ? url.url : url).endsWith('/token')).length;
}

async function stored(id: string) {
  const [row] = await t.hub.db.prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(
    'SELECT type, source, user_id::text AS subject, data, occurred_at, idempotency_key FROM events WHERE id = $1::uuid', id,
  );
  return row;
}

const emitter = (): Emitter => createEmitter({ issuer: t.url, clientId: 'emitter', clientSecret: secret });

describe('emit against a real hub', () => {
  it('stores one event and answers what it stored; a repeated id is a duplicate of the first', async () => {
    const events = emitter();
    const occurredAt = new Date('2026-11-30T09:15:00.000Z');
    const first = await events.emit('deal.won', { dealId: 'd-1', value: 1200 }, { subject, occurredAt });
    expect(first).toEqual({ id: expect.stringMatching(UUID), key: null, sequence: expect.any(Number), duplicate: false });
    expect(await stored(first.id)).toMatchObject({
      type: 'deal.won', source: 'emitter', subject, data: { dealId: 'd-1', value: 1200 }, occurred_at: occurredAt, idempotency_key: null,
    });

    const key = `deal-${randomUUID()}`;
    const keyed = await events.emit('deal.won', { dealId: 'd-2' }, { id: key });
    expect(keyed).toMatchObject({ key, duplicate: false });
    expect(keyed.sequence).toBeGreaterThan(first.sequence);
    const again = await events.emit('deal.won', { dealId: 'd-2' }, { id: key });
    expect(again).toEqual({ ...keyed, duplicate: true });
  });

  it('a batch: the stored events in order; more than 100 is refused before any request', async () => {
    const events = emitter();
    const batch = await events.emit([
      { type: 'lead.qualified', data: { leadId: 'l-1' }, subject },
      { type: 'lead.qualified', data: { leadId: 'l-2' }, id: `lead-${randomUUID()}`, occurredAt: '2026-11-30T10:00:00Z' },
      { type: 'deal.won' },
    ]);
    expect(batch).toHaveLength(3);
    expect(batch.map((event) => event.duplicate)).toEqual([false, false, false]);
    expect(batch[1].sequence).toBeGreaterThan(batch[0].sequence);
    expect(batch[2].sequence).toBeGreaterThan(batch[1].sequence);
    expect((await stored(batch[1].id)).occurred_at).toEqual(new Date('2026-11-30T10:00:00Z'));
    expect(await events.emit(Array.from({ length: 100 }, (_, i) => ({ type: 'load.tested', data: { i } })))).toHaveLength(100);

    const fresh = emitter(); // no token yet: refusing these must not even ask for one
    const requests = countTokenRequests();
    await expect(fresh.emit(Array.from({ length: 101 }, () => ({ type: 'load.tested' })))).rejects.toThrow(RangeError);
    await expect(fresh.emit([])).rejects.toThrow(RangeError);
    expect(requests()).toBe(0);
  });

  it('the hub\'s refusals arrive as NexusHubError with its code: 400, 413, invalid_client', async () => {
    const events = emitter();
    const invalid = await events.emit('Not A Type', {}).catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(NexusHubError);
    expect(invalid).toMatchObject({ code: 'invalid_event', status: 400 });
    // One bad event refuses the whole batch: nothing of it is stored.
    await expect(events.emit([{ type: 'deal.won' }, { type: 'deal.won', subject: 'not-a-user-id' }])).rejects.toMatchObject({ code: 'invalid_event', status: 400 });

    // The hub reads at most 2 MB of events: 40 events of 60 KB are 413, its code invalid_request.
    const big = Array.from({ length: 40 }, () => ({ type: 'load.tested', data: { blob: 'x'.repeat(60_000) } }));
    await expect(events.emit(big)).rejects.toMatchObject({ code: 'invalid_request', status: 413 });

    const wrongSecret = createEmitter({ issuer: t.url, clientId: 'emitter', clientSecret: 'not-the-secret' });
    await expect(wrongSecret.emit('deal.won')).rejects.toMatchObject({ name: 'NexusHubError', code: 'invalid_client', status: 401 });
  });

  it('one token for eight parallel emits and the calls after them', async () => {
    const events = emitter();
    const requests = countTokenRequests();
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => events.emit('deal.won', { i })));
    expect(new Set(answers.map((answer) => answer.id)).size).toBe(8);
    expect(requests()).toBe(1);
    await events.emit('deal.won', { after: true });
    expect(requests()).toBe(1);
  });

  it('a token the hub no longer accepts (its signing key retired) is renewed once', async () => {
    const events = emitter();
    await events.emit('deal.won', { before: 'rotation' });
    const [old] = (await t.hub.keys.load()).jwks.keys;
    await t.hub.keys.rotate();
    await t.hub.keys.retire(old.kid!);
    await publishChange(t.hub.db.prisma, 'keys');
    await waitFor(async () => !(await jwksKids()).includes(old.kid!));

    const requests = countTokenRequests();
    const answers = await Promise.all(Array.from({ length: 4 }, () => events.emit('deal.won', { after: 'rotation' })));
    expect(answers.every((answer) => answer.duplicate === false)).toBe(true);
    expect(requests()).toBe(1);
  });

  it('configuration from NEXUS_ISSUER, NEXUS_CLIENT_ID and NEXUS_CLIENT_SECRET; explicit options win', async () => {
    vi.stubEnv('NEXUS_ISSUER', t.url);
    vi.stubEnv('NEXUS_CLIENT_ID', 'emitter');
    vi.stubEnv('NEXUS_CLIENT_SECRET', secret);
    const answer = await emit('deal.won', { via: 'env' }, { subject });
    expect((await stored(answer.id)).source).toBe('emitter');
    expect(await emit([{ type: 'deal.won' }, { type: 'deal.won' }])).toHaveLength(2);
    await expect(createEmitter({ clientSecret: 'not-the-secret' }).emit('deal.won')).rejects.toMatchObject({ code: 'invalid_client' });

    vi.stubEnv('NEXUS_CLIENT_SECRET', 'not-the-secret');
    expect((await createEmitter({ clientSecret: secret }).emit('deal.won')).duplicate).toBe(false);
    vi.stubEnv('NEXUS_CLIENT_ID', '');
    expect(() => createEmitter()).toThrow('pass the clientId option or set NEXUS_CLIENT_ID');
  });

  it('an unreachable hub is hub_unreachable', async () => {
    const events = createEmitter({ issuer: 'http://127.0.0.1:9', clientId: 'emitter', clientSecret: secret });
    await expect(events.emit('deal.won')).rejects.toMatchObject({ name: 'NexusHubError', code: 'hub_unreachable' });
  });
});

async function jwksKids() {
  const { keys } = (await (await fetch(`${t.url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
  return keys.map((key) => key.kid);
}

async function waitFor(done: () => Promise<boolean>) {
  for (let waited = 0; !(await done()); waited += 100) {
    if (waited > 10_000) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A stand-in for the hub speaking the events contract, for what a real hub cannot be made to do
 * on demand: refuse a fresh token, answer 403, 413 or nonsense, hand out a 1-second token.
 */
async function startStandIn(answer: (token: string, body: unknown) => { status: number; body: unknown }, expiresIn = 300) {
  let issued = 0;
  const bodies: unknown[] = [];
  const server = http.createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/.well-known/openid-configuration') return json(200, { issuer, token_endpoint: `${issuer}/token` });
    if (req.url === '/token') return json(200, { access_token: `token-${++issued}`, token_type: 'Bearer', expires_in: expiresIn, scope: 'events:write' });
    const body = JSON.parse(text);
    bodies.push(body);
    const { status, body: reply } = answer(req.headers.authorization!.slice('Bearer '.length), body);
    return json(status, reply);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    emitter: createEmitter({ issuer, clientId: 'stand-in', clientSecret: 'secret' }),
    get issued() { return issued; },
    bodies,
    close: () => closeServer(server),
  };
}

const accepted = (body: unknown) => ({
  status: 202,
  body: { events: (Array.isArray(body) ? body : [body]).map((event, i) => ({ id: randomUUID(), key: event.id ?? null, sequence: i + 1, duplicate: false })) },
});

describe('emit against a stand-in for the contract', () => {
  it('sends what the contract says: one object, or an array; occurredAt as ISO time; no undefined fields', async () => {
    const hub = await startStandIn((_, body) => accepted(body));
    try {
      await hub.emitter.emit('deal.won', { value: 1 }, { subject: 'u-1', id: 'k-1', occurredAt: new Date('2026-12-01T10:00:00Z') });
      await hub.emitter.emit('deal.won');
      await hub.emitter.emit([{ type: 'a.b', occurredAt: '2026-12-01T11:00:00+01:00' }]);
      expect(hub.bodies).toEqual([
        { type: 'deal.won', data: { value: 1 }, subject: 'u-1', id: 'k-1', occurredAt: '2026-12-01T10:00:00.000Z' },
        { type: 'deal.won' },
        [{ type: 'a.b', occurredAt: '2026-12-01T11:00:00+01:00' }],
      ]);
    } finally {
      await hub.close();
    }
  });

  it('renews a refused token once, and gives up with invalid_token when the new one is refused too', async () => {
    const hub = await startStandIn(() => ({ status: 401, body: { error: 'invalid_token', error_description: 'the token has been revoked' } }));
    try {
      await expect(hub.emitter.emit('deal.won')).rejects.toMatchObject({ code: 'invalid_token', status: 401, message: 'the token has been revoked' });
      expect(hub.issued).toBe(2);
      expect(hub.bodies).toHaveLength(2);
    } finally {
      await hub.close();
    }
  });

  it('renews a token shortly before it expires', async () => {
    // A 4 s life is renewed after 2 s: room for the first two calls on a loaded machine (with a
    // 1 s life, two calls taking over 0.5 s under the full suite renewed the token between them).
    const hub = await startStandIn((_, body) => accepted(body), 4);
    try {
      await hub.emitter.emit('deal.won');
      await hub.emitter.emit('deal.won');
      expect(hub.issued).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 2_100)); // half of a 4 s life
      await hub.emitter.emit('deal.won');
      expect(hub.issued).toBe(2);
    } finally {
      await hub.close();
    }
  });

  it('403, 413 and answers without the stored events', async () => {
    const replies = [
      { status: 403, body: { error: 'insufficient_scope', error_description: 'the token lacks events:write' } },
      { status: 413, body: { error: 'payload_too_large', error_description: 'the body is over 1 MB' } },
      { status: 202, body: { events: [] } },
      { status: 200, body: { events: [{ id: 'x', key: null, sequence: '1', duplicate: false }] } },
      { status: 500, body: 'oops' },
    ];
    const hub = await startStandIn(() => replies.shift()!);
    try {
      await expect(hub.emitter.emit('deal.won')).rejects.toMatchObject({ code: 'insufficient_scope', status: 403 });
      await expect(hub.emitter.emit('deal.won')).rejects.toMatchObject({ code: 'payload_too_large', status: 413 });
      await expect(hub.emitter.emit('deal.won')).rejects.toMatchObject({ code: 'unexpected_response', status: 202 });
      await expect(hub.emitter.emit('deal.won')).rejects.toMatchObject({ code: 'unexpected_response', status: 200 });
      await expect(hub.emitter.emit('deal.won')).rejects.toMatchObject({ code: 'unexpected_response', status: 500 });
    } finally {
      await hub.close();
    }
  });
});
