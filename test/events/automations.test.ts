// Cross-project automation end to end: a project emits through POST /api/events, the hub's
// delivery worker runs the matching rule of AUTOMATIONS_FILE through the real gateway, and
// stand-in project upstreams on loopback record what they receive (and, for the chain, emit the
// next event with causedBy as a real project would). Outcomes are read as operators read them:
// `nexus events show`, the admin API.
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyGatewayAssertion } from '@nexus/auth';
import { startTestHub, type TestHub } from '../support/hub.js';
import { adminApi, adminToken } from '../support/admin-token.js';
import { closeServer } from '../support/process.js';
import { expectFailure, expectSuccess, nexus, nexusJson, ROOT, run } from '../cli/support.js';
import { createUser, putBehindGateway } from '../gateway/support.js';
import { call, emit, eventually, projectToken, sleep, together } from './support.js';
import { ProjectAccess } from '../../src/accounts/access.js';
import type { DeliveryInfo } from '../../src/events/deliveries.js';

interface Request {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

type Answer = { status: number; body?: unknown };

/** A project's API on loopback: records every request; `answer` decides the reply (default 201). */
class StandIn {
  readonly requests: Request[] = [];
  answer: (request: Request, n: number) => Answer | Promise<Answer> = () => ({ status: 201, body: { ok: true } });
  private constructor(private readonly server: http.Server, readonly url: string) {}

  static async start(): Promise<StandIn> {
    let standIn: StandIn;
    const server = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      const request: Request = { method: req.method!, url: req.url!, headers: req.headers, body: text ? JSON.parse(text) : undefined };
      standIn.requests.push(request);
      const { status, body } = await standIn.answer(request, standIn.requests.length);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    standIn = new StandIn(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`);
    return standIn;
  }

  /** The requests of one event (its X-Nexus-Event-Id). */
  of(eventId: string) {
    return this.requests.filter((r) => r.headers['x-nexus-event-id'] === eventId);
  }

  close() {
    return closeServer(this.server);
  }
}

// The shipped rules (sales-commission and the seed's others), plus rules for the cases below.
const EXTRA_RULES = [
  {
    id: 'milestone-chain', description: 'a reached milestone notes a follow-up deal in the CRM',
    on: { source: 'dream-people', type: 'milestone.reached' },
    call: { project: 'sales', method: 'POST', path: '/follow-ups', body: { userId: '{{subject}}', milestone: '{{data.milestone}}', cause: '{{id}}' } },
  },
  {
    id: 'qualified-liminal', description: 'a granted project',
    on: { source: 'sales', type: 'lead.qualified' },
    call: { project: 'liminal', method: 'POST', path: '/leads', body: { userId: '{{subject}}' } },
  },
  {
    id: 'lost-resonance', description: 'a project not behind the gateway',
    on: { source: 'sales', type: 'lead.lost' },
    call: { project: 'resonance', method: 'POST', path: '/leads', body: { userId: '{{subject}}' } },
  },
  {
    id: 'deal-moved', description: 'a path mapped from the event',
    on: { source: 'sales', type: 'deal.moved' },
    call: { project: 'dream-people', method: 'put', path: '/deals/{{data.dealId}}/stage', body: { stage: 'stage {{data.stage}}', seq: '{{sequence}}' } },
  },
  {
    id: 'liminal-welcome', description: 'a grant of Liminal, made through the hub or the nexus command',
    on: { source: 'nexus', type: 'access.granted' },
    call: { project: 'liminal', method: 'POST', path: '/welcome', body: { userId: '{{subject}}', project: '{{data.project}}', role: '{{data.role}}' } },
  },
  {
    id: 'deal-probed', description: 'placeholders that must reach nothing but the event',
    on: { source: 'sales', type: 'deal.probed' },
    call: {
      project: 'dream-people', method: 'POST', path: '/probe',
      body: {
        proto: '{{data.__proto__}}', ctor: '{{data.constructor}}', text: '<{{data.constructor}}|{{data.__proto__}}|{{data.toString}}>',
        missing: '{{data.nowhere.deeper}}', whole: '{{data}}', actor: '{{actor.id}}', list: ['{{type}}', 7, true, null], nested: { source: '{{source}}' },
      },
    },
  },
];

let t: TestHub;
let dream: StandIn;
let sales: StandIn;
let liminal: StandIn;
let rulesFile: string;
let salesToken: string;
let dreamToken: string;
let admin: string;

beforeAll(async () => {
  const shipped = JSON.parse(await fs.readFile(path.join(ROOT, 'automations.json'), 'utf8')) as { rules: unknown[] };
  rulesFile = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-automations-')), 'automations.json');
  await fs.writeFile(rulesFile, JSON.stringify({ rules: [...shipped.rules, ...EXTRA_RULES] }));
  t = await startTestHub({ AUTOMATIONS_FILE: rulesFile, WEBHOOK_RETRY_SCHEDULE: '1s,1s' });
  [dream, sales, liminal] = await Promise.all([StandIn.start(), StandIn.start(), StandIn.start()]);
  await putBehindGateway(t, 'dream-people', dream.url);
  await putBehindGateway(t, 'sales', sales.url);
  await putBehindGateway(t, 'liminal', liminal.url);
  await putBehindGateway(t, 'resonance', null);
  salesToken = await projectToken(t.url, 'sales', t.secrets.sales, 'events:write');
  dreamToken = await projectToken(t.url, 'dream-people', t.secrets['dream-people'], 'events:write');
  admin = await adminToken(t);
});

afterAll(async () => {
  await t?.stop();
  await Promise.all([dream?.close(), sales?.close(), liminal?.close()]);
  if (rulesFile) await fs.rm(path.dirname(rulesFile), { recursive: true, force: true });
});

let users = 0;
const newUser = () => createUser(t, `automation-${++users}@example.com`);

/** The run of `rule` for an event, once it is no longer pending. */
async function finished(eventId: string, rule: string, timeoutMs = 15_000): Promise<DeliveryInfo> {
  return eventually(async () => {
    const run = (await t.hub.bus.deliveries.list({ eventId })).find((d) => d.rule === rule);
    expect(run, `no run of ${rule} for ${eventId}`).toBeDefined();
    expect(run!.status).not.toBe('pending');
    return run!;
  }, timeoutMs);
}

const emitOne = async (token: string, event: Record<string, unknown>) => (await emit(t.url, token, event))[0].id;

describe('a rule runs through the gateway as the event\'s subject user', () => {
  it('deal.won from sales → POST dream-people /transactions with the mapped body, idempotency key and identity', async () => {
    const ada = await newUser();
    const id = await emitOne(salesToken, { type: 'deal.won', subject: ada.id, data: { dealId: 'd-1', dealValue: 1234.5, extra: 'ignored' } });
    const run = await finished(id, 'sales-commission');
    expect(run).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 201, lastError: null, endpointId: null, eventType: 'deal.won' });

    const [received] = dream.of(id);
    expect(dream.of(id)).toHaveLength(1);
    expect(received.method).toBe('POST');
    expect(received.url).toBe('/api/transactions');
    // Exact placeholders keep the value's type: the amount is still a number.
    expect(received.body).toStrictEqual({ userId: ada.id, type: 'income', amount: 1234.5, source: 'sales_commission', dealId: 'd-1' });
    const h = received.headers;
    expect(h['content-type']).toBe('application/json');
    expect(h['idempotency-key']).toBe(`sales-commission:${id}`);
    expect(h['x-nexus-automation']).toBe('sales-commission');
    expect(h['x-nexus-event-id']).toBe(id);
    expect(h['x-nexus-request-id']).toBe(run.id);
    expect(h['x-nexus-user-id']).toBe(ada.id);
    expect(h['x-nexus-email']).toBe(ada.email);
    expect(h['x-nexus-project']).toBe('dream-people');
    expect(h['x-nexus-role']).toBe('user');
    expect(h['x-nexus-auth-method']).toBe('automation');
    expect(h['x-nexus-key-id']).toBe('');
    expect(h.authorization).toBeUndefined();
    const who = await verifyGatewayAssertion(h['x-nexus-assertion'] as string, { issuer: t.url, audience: 'urn:nexus:dream-people' });
    expect(who).toMatchObject({ sub: ada.id, email: ada.email, project: 'dream-people', role: 'user', authMethod: 'automation' });
    expect(Number(who.claims.exp) - Number(who.claims.iat)).toBeLessThanOrEqual(60);
    await expect(verifyGatewayAssertion(h['x-nexus-assertion'] as string, { issuer: t.url, audience: 'urn:nexus:sales' })).rejects.toThrow();

    // What operators see: the admin API's delivery, with its attempt and the answer's excerpt.
    const shown = await adminApi(t, admin, 'GET', `/webhooks/deliveries/${run.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ id: run.id, eventId: id, rule: 'sales-commission', status: 'delivered', attempts: 1 });
    expect(shown.body.attemptLog).toHaveLength(1);
    expect(shown.body.attemptLog[0]).toMatchObject({ status: 201, error: null, response: '{"ok":true}' });

    // ... and `nexus events show`, text and JSON.
    const text = await nexus(t, 'events', 'show', id);
    expectSuccess(text);
    expect(text.stdout).toContain(`deal.won from sales`);
    expect(text.stdout).toContain(`subject:  ${ada.id}`);
    expect(text.stdout).toMatch(new RegExp(`rule sales-commission\\s+delivered\\s+1\\s+201\\s+-\\s+${run.id}`));
    const json = await nexusJson(t, 'events', 'show', id);
    expect(json.event).toMatchObject({ id, type: 'deal.won', source: 'sales', subject: ada.id, depth: 0, causedBy: null });
    expect(json.deliveries).toEqual([expect.objectContaining({ id: run.id, rule: 'sales-commission', status: 'delivered', lastStatus: 201 })]);
  });

  it('an upstream that fails (500, then 429) is retried on the schedule with the same idempotency key, then delivered', async () => {
    const ada = await newUser();
    const answers = [500, 429, 201];
    let n = 0;
    dream.answer = (request) => (request.body?.dealId === 'flaky' ? { status: answers[n++], body: { n } } : { status: 201 });
    try {
      const id = await emitOne(salesToken, { type: 'deal.won', subject: ada.id, data: { dealId: 'flaky', dealValue: 10 } });
      const run = await finished(id, 'sales-commission', 20_000);
      expect(run).toMatchObject({ status: 'delivered', attempts: 3, lastStatus: 201 });
      const received = dream.of(id);
      expect(received).toHaveLength(3);
      expect(new Set(received.map((r) => r.headers['idempotency-key']))).toEqual(new Set([`sales-commission:${id}`]));
      const shown = await adminApi(t, admin, 'GET', `/webhooks/deliveries/${run.id}`);
      expect(shown.body.attemptLog.map((a: { status: number }) => a.status)).toEqual([500, 429, 201]);
      expect(shown.body.attemptLog[0]).toMatchObject({ error: 'answered 500', response: '{"n":1}' });
      const times = shown.body.attemptLog.map((a: { attemptedAt: string }) => new Date(a.attemptedAt).getTime());
      expect(times[1] - times[0]).toBeGreaterThanOrEqual(900);
      expect(times[2] - times[1]).toBeGreaterThanOrEqual(900);
    } finally {
      dream.answer = () => ({ status: 201, body: { ok: true } });
    }
  });

  it('a 4xx refusal of the project (other than 408/425/429) ends the run at once; 5xx to the end of the schedule fails it', async () => {
    const ada = await newUser();
    dream.answer = (request) => {
      if (request.body?.dealId === 'refused') return { status: 422, body: { error: 'no such portfolio' } };
      if (request.body?.dealId === 'down') return { status: 503 };
      return { status: 201 };
    };
    try {
      const refused = await emitOne(salesToken, { type: 'deal.won', subject: ada.id, data: { dealId: 'refused', dealValue: 1 } });
      const down = await emitOne(salesToken, { type: 'deal.won', subject: ada.id, data: { dealId: 'down', dealValue: 1 } });
      expect(await finished(refused, 'sales-commission')).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 422, lastError: 'answered 422' });
      expect(await finished(down, 'sales-commission', 20_000)).toMatchObject({ status: 'failed', attempts: 3, lastStatus: 503 });
      expect(dream.of(refused)).toHaveLength(1);
      expect(dream.of(down)).toHaveLength(3);
    } finally {
      dream.answer = () => ({ status: 201, body: { ok: true } });
    }
  });
});

describe('refusals no retry can change end the run at once', () => {
  it('a user without access to a granted project: access_denied, no call, no retry; once granted, the next run goes through', async () => {
    const bob = await newUser();
    const denied = await emitOne(salesToken, { type: 'lead.qualified', subject: bob.id, data: {} });
    const run = await finished(denied, 'qualified-liminal');
    expect(run).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 403 });
    expect(run.lastError).toMatch(/^access_denied: /);
    await sleep(1_500); // past the first retry's time: none was scheduled
    expect((await t.hub.bus.deliveries.get(run.id))!.attemptLog).toHaveLength(1);
    expect(liminal.requests).toHaveLength(0);

    const text = await nexus(t, 'events', 'show', denied);
    expectSuccess(text);
    expect(text.stdout).toMatch(/rule qualified-liminal\s+failed\s+1\s+403\s+access_denied: /);

    // Access is checked at each run, never cached: a grant counts for the next one.
    await new ProjectAccess(t.hub.db.prisma).grant(bob.id, 'liminal', 'user');
    const allowed = await emitOne(salesToken, { type: 'lead.qualified', subject: bob.id, data: {} });
    expect(await finished(allowed, 'qualified-liminal')).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(liminal.of(allowed)[0].headers).toMatchObject({ 'x-nexus-user-id': bob.id, 'x-nexus-project': 'liminal', 'x-nexus-auth-method': 'automation' });

    // An operator replays the refused run (admin API): a new run of the same event and key.
    const replayed = await adminApi(t, admin, 'POST', `/webhooks/deliveries/${run.id}/replay`);
    expect(replayed.status, JSON.stringify(replayed.body)).toBe(202);
    const again = await eventually(async () => {
      const found = (await t.hub.bus.deliveries.list({ eventId: denied })).find((d) => d.id === replayed.body.delivery);
      expect(found?.status).toBe('delivered');
      return found!;
    });
    expect(again).toMatchObject({ rule: 'qualified-liminal', attempts: 1 });
    expect(liminal.of(denied).map((r) => r.headers['idempotency-key'])).toEqual([`qualified-liminal:${denied}`]);
  });

  it('a project not behind the gateway, an unknown or disabled subject, a path value that is a dot segment', async () => {
    const ada = await newUser();
    const noUpstream = await emitOne(salesToken, { type: 'lead.lost', subject: ada.id, data: {} });
    const stranger = await emitOne(salesToken, { type: 'deal.won', subject: '00000000-0000-4000-8000-000000000000', data: { dealId: 'x', dealValue: 1 } });
    const gone = await newUser();
    await t.hub.users.disable(gone.email);
    const disabled = await emitOne(salesToken, { type: 'deal.won', subject: gone.id, data: { dealId: 'y', dealValue: 1 } });
    const dotted = await emitOne(salesToken, { type: 'deal.moved', subject: ada.id, data: { dealId: '..', stage: 2 } });

    expect(await finished(noUpstream, 'lost-resonance')).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 404, lastError: expect.stringMatching(/^unknown_project: /) });
    expect(await finished(stranger, 'sales-commission')).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 403, lastError: expect.stringMatching(/^access_denied: /) });
    expect(await finished(disabled, 'sales-commission')).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 403, lastError: expect.stringMatching(/^access_denied: /) });
    expect(await finished(dotted, 'deal-moved')).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 400, lastError: expect.stringMatching(/^invalid_request: /) });
    for (const id of [stranger, disabled, dotted]) expect(dream.of(id)).toHaveLength(0);
  });
});

describe('the mapping', () => {
  it('a path value is one percent-encoded segment; embedded placeholders become text; the method is any case in the file', async () => {
    const ada = await newUser();
    const id = await emitOne(salesToken, { type: 'deal.moved', subject: ada.id, data: { dealId: 'a b/c?d#e%', stage: 3 } });
    expect(await finished(id, 'deal-moved')).toMatchObject({ status: 'delivered' });
    const [received] = dream.of(id);
    expect(received.method).toBe('PUT');
    expect(received.url).toBe('/api/deals/a%20b%2Fc%3Fd%23e%25/stage');
    const event = (await t.hub.bus.store.get(id))!;
    expect(received.body).toStrictEqual({ stage: 'stage 3', seq: event.sequence });
  });

  it('placeholders reach only the event\'s own fields: no prototype, no constructor, nothing executed', async () => {
    const ada = await newUser();
    const id = await emitOne(salesToken, { type: 'deal.probed', subject: ada.id, data: { dealId: 'p', nowhere: 'text' } });
    expect(await finished(id, 'deal-probed')).toMatchObject({ status: 'delivered' });
    expect(dream.of(id)[0].body).toStrictEqual({
      proto: null, ctor: null, text: '<||>', missing: null, whole: { dealId: 'p', nowhere: 'text' }, actor: 'sales',
      list: ['deal.probed', 7, true, null], nested: { source: 'sales' },
    });
    // A "__proto__" key never gets in (the hub refuses such a body); a "constructor" key a project
    // sends is its data like any other, and pollutes nothing.
    const proto = await call(t.url, salesToken, 'POST', '/api/events', `{"type":"deal.probed","subject":"${ada.id}","data":{"__proto__":{"polluted":true}}}`);
    expect(proto.status).toBe(400);
    const [own] = await emit(t.url, salesToken, `{"type":"deal.probed","subject":"${ada.id}","data":{"constructor":"mine","nowhere":{"deeper":{"toString":1}}}}`);
    expect(await finished(own.id, 'deal-probed')).toMatchObject({ status: 'delivered' });
    expect(dream.of(own.id)[0].body).toMatchObject({ proto: null, ctor: 'mine', text: '<mine||>', missing: { toString: 1 } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('runs happen once per event', () => {
  it('8 identical events at once (one idempotency id) are one event and one run', async () => {
    const ada = await newUser();
    const answers = await together(8, () => emit(t.url, salesToken, { type: 'deal.won', id: 'deal-once', subject: ada.id, data: { dealId: 'once', dealValue: 5 } }));
    const ids = new Set(answers.map((a) => a[0].id));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => !a[0].duplicate)).toHaveLength(1);
    const [id] = ids;
    expect(await finished(id, 'sales-commission')).toMatchObject({ status: 'delivered', attempts: 1 });
    await sleep(1_500);
    expect(dream.requests.filter((r) => r.body?.dealId === 'once')).toHaveLength(1);
    expect((await t.hub.bus.deliveries.list({ eventId: id }))).toHaveLength(1);
  });

  it('8 different events at once: 8 runs, each made once with its own key', async () => {
    const ada = await newUser();
    const answers = await together(8, (i) => emit(t.url, salesToken, { type: 'deal.won', subject: ada.id, data: { dealId: `many-${i}`, dealValue: i } }));
    const ids = answers.map((a) => a[0].id);
    for (const id of ids) await finished(id, 'sales-commission');
    await sleep(1_000);
    const received = dream.requests.filter((r) => String(r.body?.dealId).startsWith('many-'));
    expect(received).toHaveLength(8);
    expect(new Set(received.map((r) => r.headers['idempotency-key']))).toEqual(new Set(ids.map((id) => `sales-commission:${id}`)));
    expect(received.map((r) => r.body.amount).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('chains of rule-caused events', () => {
  it('stop at depth 3: the upstreams emit the next event with causedBy, and the fourth event runs no rule', async () => {
    const ada = await newUser();
    const emitted: string[] = [];
    // dream-people: a commission reaches a milestone; sales: a milestone brings a follow-up deal.
    dream.answer = async (request) => {
      if (request.body?.dealId !== 'chain') return { status: 201 };
      const [next] = await emit(t.url, dreamToken, {
        type: 'milestone.reached', subject: request.headers['x-nexus-user-id'], data: { milestone: `m${emitted.length}` }, causedBy: request.headers['x-nexus-event-id'],
      });
      emitted.push(next.id);
      return { status: 201 };
    };
    sales.answer = async (request) => {
      const [next] = await emit(t.url, salesToken, {
        type: 'deal.won', subject: request.body.userId, data: { dealId: 'chain', dealValue: 1 }, causedBy: request.body.cause,
      });
      emitted.push(next.id);
      return { status: 201 };
    };
    try {
      const first = await emitOne(salesToken, { type: 'deal.won', subject: ada.id, data: { dealId: 'chain', dealValue: 1 } });
      await eventually(() => expect(emitted).toHaveLength(3), 20_000);
      await finished(emitted[1], 'sales-commission');
      await sleep(1_500); // time for a fourth run, if one were (wrongly) queued
      expect(emitted).toHaveLength(3);
      const chain = [first, ...emitted];
      const events = await Promise.all(chain.map((id) => t.hub.bus.store.get(id)));
      expect(events.map((e) => [e!.type, e!.depth, e!.causedBy])).toEqual([
        ['deal.won', 0, null], ['milestone.reached', 1, first], ['deal.won', 2, emitted[0]], ['milestone.reached', 3, emitted[1]],
      ]);
      expect(events.slice(1, 3).map((e) => e!.source)).toEqual(['dream-people', 'sales']);
      expect(await finished(first, 'sales-commission')).toMatchObject({ status: 'delivered' });
      expect(await finished(emitted[0], 'milestone-chain')).toMatchObject({ status: 'delivered' });
      expect(await finished(emitted[1], 'sales-commission')).toMatchObject({ status: 'delivered' });
      expect((await t.hub.bus.deliveries.list({ eventId: emitted[2] })).filter((d) => d.rule)).toHaveLength(0);
      expect(sales.of(emitted[0])[0].body).toStrictEqual({ userId: ada.id, milestone: 'm0', cause: emitted[0] });

      const shown = await nexus(t, 'events', 'show', emitted[2]);
      expectSuccess(shown);
      expect(shown.stdout).toContain(`cause:    ${emitted[1]} (depth 3)`);
      expect(shown.stdout).toContain('No deliveries: no endpoint or rule took this event.');
    } finally {
      dream.answer = () => ({ status: 201, body: { ok: true } });
      sales.answer = () => ({ status: 201, body: { ok: true } });
    }
  });

  it('a causedBy naming no event starts a chain of its own (depth 0); a malformed one is refused', async () => {
    const ada = await newUser();
    const id = await emitOne(salesToken, { type: 'deal.won', subject: ada.id, data: { dealId: 'uncaused', dealValue: 1 }, causedBy: '00000000-0000-4000-8000-000000000001' });
    expect((await t.hub.bus.store.get(id))!.depth).toBe(0);
    expect(await finished(id, 'sales-commission')).toMatchObject({ status: 'delivered' });
    for (const causedBy of ['not-an-id', 12, ['x'], 'a'.repeat(10_000), '00000000-0000-4000-8000-00000000000\u0000']) {
      const answer = await call(t.url, salesToken, 'POST', '/api/events', { type: 'deal.won', subject: ada.id, causedBy });
      expect(answer.status, JSON.stringify(causedBy).slice(0, 40)).toBe(400);
    }
  });
});

describe("the nexus command's events", () => {
  const cliUser = async (email: string, env: Record<string, string> = {}) => {
    const created = await run(t, ['users', 'create', '--email', email, '--password', 'a long enough password 1', '--json'], { env });
    expect(created.code, created.stderr).toBe(0);
    return { id: JSON.parse(created.stdout).id as string, stderr: created.stderr };
  };
  const eventOf = (type: string, subject: string) => eventually(async () => {
    const [event] = await t.hub.bus.store.list({ type, subject });
    expect(event, `no ${type} of ${subject}`).toBeDefined();
    return event;
  });

  it('trigger the rules as the same change through the hub does: `nexus access grant` runs liminal-welcome on the running hub', async () => {
    const user = await cliUser('cli-granted@example.com');
    expect(user.stderr).toBe('');
    expectSuccess(await nexus(t, 'access', 'grant', '--email', 'cli-granted@example.com', '--project', 'liminal', '--role', 'user'));
    const granted = await eventOf('access.granted', user.id);
    expect(await finished(granted.id, 'liminal-welcome')).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 201 });
    const received = liminal.of(granted.id);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'POST', url: '/api/welcome', body: { userId: user.id, project: 'liminal', role: 'user' } });
    expect(received[0].headers).toMatchObject({ 'x-nexus-user-id': user.id, 'x-nexus-automation': 'liminal-welcome', 'idempotency-key': `liminal-welcome:${granted.id}` });
  });

  it('a rules file that does not load is reported on standard error, and the command still works, without rules', async () => {
    const broken = path.join(path.dirname(rulesFile), 'broken.json');
    await fs.writeFile(broken, JSON.stringify({ rules: [{ ...EXTRA_RULES.find((r) => r.id === 'liminal-welcome'), call: { project: 'not-registered', method: 'POST', path: '/x' } }] }));
    const user = await cliUser('cli-broken-rules@example.com', { AUTOMATIONS_FILE: broken, LOG_LEVEL: 'warn' });
    expect(user.stderr).toContain('automation rules not loaded');
    expect(user.stderr).toContain('not-registered');
    const grant = await run(t, ['access', 'grant', '--email', 'cli-broken-rules@example.com', '--project', 'liminal', '--role', 'user'], { env: { AUTOMATIONS_FILE: broken } });
    expectSuccess(grant);
    const granted = await eventOf('access.granted', user.id);
    await sleep(1_500); // a worker's poll and more: nothing was queued for the event
    expect((await t.hub.bus.deliveries.list({ eventId: granted.id })).filter((d) => d.rule)).toEqual([]);
    expect(liminal.of(granted.id)).toHaveLength(0);
  });
});

describe('nexus automations list', () => {
  it('prints the rules as loaded (and --json); without AUTOMATIONS_FILE, the shipped automations.json', async () => {
    const listed = await nexus(t, 'automations', 'list');
    expectSuccess(listed);
    expect(listed.stdout).toMatch(/sales-commission\s+sales deal\.won\s+POST dream-people \/transactions\s+A won deal adds/);
    expect(listed.stdout).toMatch(/deal-moved\s+sales deal\.moved\s+PUT dream-people \/deals\/\{\{data\.dealId\}\}\/stage/);
    const json = await nexusJson(t, 'automations', 'list');
    expect(json.file).toBe(rulesFile);
    expect(json.rules.map((r: { id: string }) => r.id)).toEqual(['sales-commission', 'audit-testimonial', 'assessment-suggestion', ...EXTRA_RULES.map((r) => r.id)]);
    expect(json.rules[0]).toStrictEqual({
      id: 'sales-commission', description: 'A won deal adds the seller\'s commission to their Dream People portfolio',
      on: { source: 'sales', type: 'deal.won' },
      call: { project: 'dream-people', method: 'POST', path: '/transactions', body: { userId: '{{subject}}', type: 'income', amount: '{{data.dealValue}}', source: 'sales_commission', dealId: '{{data.dealId}}' } },
    });

    const { AUTOMATIONS_FILE: _named, ...env } = t.env;
    const shipped = await run(undefined, ['automations', 'list', '--json'], { env });
    expectSuccess(shipped);
    const parsed = JSON.parse(shipped.stdout);
    expect(parsed.file).toBe(path.join(ROOT, 'automations.json'));
    expect(parsed.rules.map((r: { id: string }) => r.id)).toEqual(['sales-commission', 'audit-testimonial', 'assessment-suggestion']);

    expectFailure(await nexus(t, 'automations', 'list', 'extra'), 2, /^unexpected argument "extra"/);
    expectFailure(await nexus(t, 'automations', 'list', '--bogus'), 2, /--bogus/);
  });

  it('events show refuses what names no event (exit 1, one line)', async () => {
    for (const id of ['nope', '00000000-0000-4000-8000-000000000002', `${'a'.repeat(5000)}`, 'x\u0001y']) {
      expectFailure(await nexus(t, 'events', 'show', id), 1, /^no event /);
    }
  });
});
