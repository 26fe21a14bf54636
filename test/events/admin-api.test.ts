// The bus in the admin API (/api/admin/events, /api/admin/webhooks/*): every operation over real
// HTTP with a real administrator's token, deliveries to loopback receivers verified with the
// standardwebhooks library, hostile input (never a 5xx), concurrent calls, and who is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startTestHub, type TestHub } from '../support/hub.js';
import { adminToken } from '../support/admin-token.js';
import { authorize, Browser } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { ProjectAccess } from '../../src/accounts/access.js';
import { call, emit, eventually, projectToken, Receiver, together } from './support.js';

const ADMIN = 'root@example.com';
const PASSWORD = 'correct horse battery';
const NO_ID = '00000000-0000-4000-8000-000000000000';

let t: TestHub;
let admin: string;
let sales: string;
let receiver: Receiver;
let failing = false;

beforeAll(async () => {
  t = await startTestHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s' });
  admin = await adminToken(t, ADMIN, PASSWORD);
  sales = await projectToken(t.url, 'sales', t.secrets.sales);
  receiver = await Receiver.start((_req, res) => res.writeHead(failing ? 503 : 204).end());
});
afterAll(async () => {
  await receiver?.close();
  await t?.stop();
});

/** A call as the administrator, or with `token` (null: none). */
const api = (method: string, path: string, json?: unknown, token: string | null = admin) => call(t.url, token ?? undefined, method, `/api/admin${path}`, json);

async function addEndpoint(input: Record<string, unknown>) {
  const added = await api('POST', '/webhooks/endpoints', { url: receiver.url, ...input });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  return added.body as { endpoint: Record<string, any> & { id: string }; secret: string };
}

const requestsOf = (eventId: string) => receiver.requests.filter((r) => r.id === eventId);
const verify = (secret: string, eventId: string) => requestsOf(eventId).map((r) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as Record<string, any>);

/** An access token for the admin API of a console user with `role` (not admin). */
async function consoleToken(email: string, role: string) {
  const user = await t.hub.users.create({ email, password: PASSWORD });
  await new ProjectAccess(t.hub.db.prisma).grant(user.id, 'nexus-console', role);
  const signedIn = await authorize(new Browser(t.url), { clientId: 'nexus-console', redirectUri: 'http://localhost:3020/auth/callback', scope: 'openid admin', email, password: PASSWORD });
  const tokens = await postForm(t, '/token', 'nexus-console', {
    grant_type: 'authorization_code', code: signedIn.code!, code_verifier: signedIn.verifier, redirect_uri: 'http://localhost:3020/auth/callback',
  });
  expect(tokens.status, tokens.text).toBe(200);
  return tokens.body.access_token as string;
}

describe('webhook endpoints through the admin API', () => {
  it('adds, lists, shows, changes and removes endpoints of any project, and the administrators\' own', async () => {
    const { endpoint, secret } = await addEndpoint({ project: 'sales', events: ['deal.*'], description: 'CRM' });
    expect(secret).toMatch(/^whsec_/);
    expect(endpoint).toMatchObject({ project: 'sales', url: receiver.url, eventTypes: ['deal.*'], description: 'CRM', enabled: true });
    const everything = await addEndpoint({ all: true, events: '*' });
    expect(everything.endpoint.project).toBeNull();

    const listed = await api('GET', '/webhooks/endpoints');
    expect(listed.status).toBe(200);
    expect(listed.body.endpoints.map((e: { id: string }) => e.id)).toEqual(expect.arrayContaining([endpoint.id, everything.endpoint.id]));
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');
    expect((await api('GET', '/webhooks/endpoints?project=sales')).body.endpoints.map((e: { id: string }) => e.id)).toContain(endpoint.id);
    expect((await api('GET', '/webhooks/endpoints?project=testing')).body).toEqual({ endpoints: [] });
    expect((await api('GET', `/webhooks/endpoints/${endpoint.id}`)).body).toMatchObject({ id: endpoint.id, project: 'sales' });

    const changed = await api('PATCH', `/webhooks/endpoints/${endpoint.id}`, { events: 'deal.won,deal.lost', description: null });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body).toMatchObject({ eventTypes: ['deal.won', 'deal.lost'], description: null });

    // Both get a sales event: the project's endpoint and the administrators' one (each its own signature).
    const [won] = await emit(t.url, sales, { type: 'deal.won', data: { dealId: 'A1' } });
    await eventually(() => expect(requestsOf(won.id)).toHaveLength(2));
    const signedFor = (s: string) => requestsOf(won.id).filter((r) => { try { new Webhook(s).verify(r.body, r.headers as Record<string, string>); return true; } catch { return false; } });
    expect(signedFor(secret)).toHaveLength(1);
    expect(signedFor(everything.secret)).toHaveLength(1);

    for (const id of [endpoint.id, everything.endpoint.id]) {
      const removed = await api('DELETE', `/webhooks/endpoints/${id}`);
      expect(removed.status).toBe(204);
      expect((await api('GET', `/webhooks/endpoints/${id}`)).body.error).toBe('endpoint_not_found');
    }
  });

  it('test, disable, enable and rotate-secret act as the administrator; rotation signs with both secrets', async () => {
    const { endpoint, secret: old } = await addEndpoint({ project: 'testing', events: ['audit.completed'] });
    const tested = await api('POST', `/webhooks/endpoints/${endpoint.id}/test`);
    expect(tested.status).toBe(202);
    await eventually(() => expect(requestsOf(tested.body.id)).toHaveLength(1));
    expect(verify(old, tested.body.id)[0]).toMatchObject({ type: 'webhook.test', source: 'nexus', actor: { type: 'admin', id: ADMIN }, data: { endpointId: endpoint.id } });

    const disabled = await api('POST', `/webhooks/endpoints/${endpoint.id}/disable`);
    expect(disabled.body).toMatchObject({ enabled: false, disabledReason: 'disabled by an operator' });
    const log = await api('GET', '/events?type=endpoint.disabled&source=nexus&limit=1');
    expect(log.body.events[0]).toMatchObject({ data: { endpointId: endpoint.id, project: 'testing' }, actor: { type: 'admin', id: ADMIN } });
    expect((await api('POST', `/webhooks/endpoints/${endpoint.id}/enable`)).body).toMatchObject({ enabled: true, disabledReason: null });

    const rotated = await api('POST', `/webhooks/endpoints/${endpoint.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(old);
    expect(Date.parse(rotated.body.endpoint.previousSecretUntil) - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    const again = await api('POST', `/webhooks/endpoints/${endpoint.id}/test`);
    await eventually(() => expect(requestsOf(again.body.id)).toHaveLength(1));
    expect(String(requestsOf(again.body.id)[0].headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [old, rotated.body.secret]) expect(verify(secret, again.body.id)[0]).toMatchObject({ id: again.body.id });
  });

  it('lists failed deliveries, shows one with its attempts, replays one and every failed one since a time', async () => {
    failing = true;
    const { endpoint } = await addEndpoint({ project: 'sales', events: ['deal.refunded'] });
    const sent = await emit(t.url, sales, [{ type: 'deal.refunded', data: { n: 1 } }, { type: 'deal.refunded', data: { n: 2 } }]);
    await eventually(async () => expect((await api('GET', `/webhooks/endpoints/${endpoint.id}/deliveries?failed=true`)).body.deliveries).toHaveLength(2), 20_000, 200);
    const { deliveries } = (await api('GET', `/webhooks/endpoints/${endpoint.id}/deliveries?failed=true&limit=1`)).body;
    expect(deliveries).toHaveLength(1);
    const one = await api('GET', `/webhooks/deliveries/${deliveries[0].id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: deliveries[0].id, endpointId: endpoint.id, status: 'failed', attempts: 2, lastStatus: 503 });
    expect(one.body.attemptLog).toEqual([expect.objectContaining({ status: 503 }), expect.objectContaining({ status: 503 })]);

    failing = false;
    const replayed = await api('POST', `/webhooks/deliveries/${deliveries[0].id}/replay`);
    expect(replayed.status).toBe(202);
    expect(replayed.body).toMatchObject({ replayed: deliveries[0].id, delivery: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const all = await api('POST', `/webhooks/endpoints/${endpoint.id}/replay-failed`, { since: '1h' });
    expect(all.status).toBe(202);
    expect(all.body).toMatchObject({ endpointId: endpoint.id, replayed: 2 });
    for (const event of sent) await eventually(() => expect(requestsOf(event.id).length).toBeGreaterThanOrEqual(3));
    await eventually(async () => expect((await api('GET', `/webhooks/endpoints/${endpoint.id}/deliveries`)).body.deliveries.filter((d: { status: string }) => d.status === 'delivered')).toHaveLength(3));
    // A delivery still pending cannot be replayed; a failed one that is already being replayed can.
    expect((await api('POST', `/webhooks/endpoints/${endpoint.id}/replay-failed`, { since: new Date(Date.now() + 60_000).toISOString() })).body.replayed).toBe(0);
  });
});

describe('GET /api/admin/events', () => {
  it('filters by type, source, subject (an email or a user id), since and limit, newest first', async () => {
    const user = await t.hub.users.create({ email: 'Subject@Example.com', password: PASSWORD });
    const [first, second] = await emit(t.url, sales, [{ type: 'lead.qualified', subject: user.id, data: { n: 1 } }, { type: 'lead.qualified', subject: user.id, data: { n: 2 } }]);
    const ids = (answer: { body: { events: Array<{ id: string }> } }) => answer.body.events.map((e) => e.id);
    expect(ids(await api('GET', '/events?type=lead.qualified&source=sales'))).toEqual([second.id, first.id]);
    expect(ids(await api('GET', '/events?type=lead.*&limit=1'))).toEqual([second.id]);
    expect(ids(await api('GET', `/events?subject=${encodeURIComponent('subject@example.com')}&source=sales`))).toEqual([second.id, first.id]);
    expect(ids(await api('GET', `/events?subject=${user.id}&source=sales`))).toEqual([second.id, first.id]);
    expect(ids(await api('GET', `/events?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`))).toEqual([]);
    expect(ids(await api('GET', '/events?since=1h&source=sales&type=lead.qualified'))).toEqual([second.id, first.id]);
    expect((await api('GET', '/events?type=*&limit=1000')).status).toBe(200);
    const unknown = await api('GET', '/events?subject=nobody@example.com');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('not_found');
  });
});

describe('hostile input answers 4xx, never 5xx', () => {
  /** A raw request: the path as given (already percent-encoded), any body. */
  async function raw(method: string, path: string, body?: string, contentType = 'application/json') {
    const res = await fetch(`${t.url}/api/admin${path}`, {
      method, body, headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    });
    const text = await res.text();
    return { status: res.status, text, label: `${method} ${path.slice(0, 80)} ${body?.slice(0, 60) ?? ''}` };
  }

  it('refuses bad ids, NUL bytes, repeated and huge parameters, wrong types and wrong methods', async () => {
    const { endpoint } = await addEndpoint({ project: 'sales', events: ['deal.won'] });
    const id = endpoint.id;
    const huge = 'a'.repeat(5000);
    const requests: Array<[string, string, string?, string?]> = [
      // Ids that name nothing, with NUL, invalid UTF-8, over-long.
      ['GET', '/webhooks/endpoints/not-an-id'], ['GET', `/webhooks/endpoints/${NO_ID}`], ['GET', `/webhooks/endpoints/${huge}`],
      ['GET', '/webhooks/endpoints/a%00b'], ['GET', '/webhooks/endpoints/%FF%FE'], ['POST', `/webhooks/endpoints/${id}%00/disable`],
      ['POST', `/webhooks/endpoints/${NO_ID}/test`], ['POST', `/webhooks/endpoints/${NO_ID}/rotate-secret`], ['DELETE', `/webhooks/endpoints/${NO_ID}`],
      ['GET', '/webhooks/deliveries/not-an-id'], ['GET', `/webhooks/deliveries/${NO_ID}`], ['POST', `/webhooks/deliveries/${NO_ID}/replay`],
      ['GET', `/webhooks/endpoints/${NO_ID}/deliveries`], ['POST', `/webhooks/endpoints/${NO_ID}/replay-failed`, '{"since":"1h"}'],
      // Query parameters: repeated, huge, wrong values, NUL, lone surrogates.
      ['GET', '/events?type=a.b&type=c.d'], ['GET', `/events?source=${'a'.repeat(100_000)}`], ['GET', `/events?subject=${huge}`],
      ['GET', '/events?type=Deal.Won'], ['GET', '/events?source=..%2Fetc'], ['GET', '/events?since=yesterday'], ['GET', '/events?since=2026-13-45T00:00:00Z'],
      ['GET', '/events?limit=0'], ['GET', '/events?limit=1001'], ['GET', '/events?limit=1e3'], ['GET', '/events?limit=-1'],
      ['GET', '/events?subject=a%00b'], ['GET', '/events?subject=%ED%A0%80'], ['GET', '/events?type=%00'], ['GET', '/events?since=%FF'],
      ['GET', `/webhooks/endpoints/${id}/deliveries?failed=yes`], ['GET', `/webhooks/endpoints/${id}/deliveries?failed=true&failed=false`],
      ['GET', `/webhooks/endpoints/${id}/deliveries?limit=abc`], ['GET', '/webhooks/endpoints?project=a&project=b'],
      // Bodies: wrong types, unknown fields, NUL and lone surrogates, malformed, the wrong kind.
      ['POST', '/webhooks/endpoints', '{"url":"http://127.0.0.1:1/h","events":"deal.won"}'],
      ['POST', '/webhooks/endpoints', '{"project":"sales","all":true,"url":"http://127.0.0.1:1/h","events":"deal.won"}'],
      ['POST', '/webhooks/endpoints', '{"all":"yes","url":"http://127.0.0.1:1/h","events":"deal.won"}'],
      ['POST', '/webhooks/endpoints', '{"project":42,"url":"http://127.0.0.1:1/h","events":"deal.won"}'],
      ['POST', '/webhooks/endpoints', '{"project":"no-such","url":"http://127.0.0.1:1/h","events":"deal.won"}'],
      ['POST', '/webhooks/endpoints', '{"project":"sa\\u0000les","url":"http://127.0.0.1:1/h","events":"deal.won"}'],
      ['POST', '/webhooks/endpoints', '{"project":"sales","url":42,"events":"deal.won"}'],
      ['POST', '/webhooks/endpoints', '{"project":"sales","url":"http://127.0.0.1:1/h\\u0000","events":"deal.won"}'],
      ['POST', '/webhooks/endpoints', '{"project":"sales","url":"http://127.0.0.1:1/h","events":{"a":1}}'],
      ['POST', '/webhooks/endpoints', '{"project":"sales","url":"http://127.0.0.1:1/h","events":[null]}'],
      ['POST', '/webhooks/endpoints', `{"project":"sales","url":"http://127.0.0.1:1/h","events":${JSON.stringify(Array(60).fill('deal.won'))}}`],
      ['POST', '/webhooks/endpoints', '{"project":"sales","url":"http://127.0.0.1:1/h","events":"deal.won","description":"a\\u0000b"}'],
      ['POST', '/webhooks/endpoints', '{"project":"sales","url":"http://127.0.0.1:1/h","events":"deal.won","description":"\\ud800"}'],
      ['POST', '/webhooks/endpoints', '{"project":"sales","url":"http://127.0.0.1:1/h","events":"deal.won","description":{"$gt":""}}'],
      ['POST', '/webhooks/endpoints', '{"project":"sales","url":"http://127.0.0.1:1/h","events":"deal.won","secret":"whsec_mine"}'],
      ['POST', '/webhooks/endpoints', '{"project":'], ['POST', '/webhooks/endpoints', '[1,2]'], ['POST', '/webhooks/endpoints', 'project=sales', 'application/x-www-form-urlencoded'],
      ['POST', '/webhooks/endpoints', `{"project":"sales","url":"http://127.0.0.1:1/h","events":"deal.won","description":"${'x'.repeat(70_000)}"}`],
      ['PATCH', `/webhooks/endpoints/${id}`, '{}'], ['PATCH', `/webhooks/endpoints/${id}`, '{"enabled":false}'], ['PATCH', `/webhooks/endpoints/${id}`, '{"url":"ftp://x"}'],
      ['PATCH', `/webhooks/endpoints/${id}`, '{"events":[]}'], ['PATCH', `/webhooks/endpoints/${id}`, '{"url":"http://[::1"}'],
      ['POST', `/webhooks/endpoints/${id}/replay-failed`, '{}'], ['POST', `/webhooks/endpoints/${id}/replay-failed`, '{"since":5}'],
      ['POST', `/webhooks/endpoints/${id}/replay-failed`, '{"since":"soon"}'], ['POST', `/webhooks/endpoints/${id}/replay-failed`, '{"since":"1h","extra":1}'],
      ['POST', `/webhooks/endpoints/${id}/replay-failed`, '{"since":"1h\\u0000"}'],
      // Wrong methods.
      ['PUT', '/webhooks/endpoints'], ['DELETE', '/webhooks/endpoints'], ['POST', '/events'], ['DELETE', '/events'], ['PUT', `/webhooks/endpoints/${id}`],
      ['GET', `/webhooks/endpoints/${id}/test`], ['GET', `/webhooks/endpoints/${id}/rotate-secret`], ['POST', `/webhooks/endpoints/${id}/deliveries`],
      ['DELETE', `/webhooks/deliveries/${NO_ID}`], ['GET', `/webhooks/deliveries/${NO_ID}/replay`], ['PATCH', '/webhooks'], ['GET', '/webhooks/nowhere'],
    ];
    const answers = await Promise.all(requests.map(([method, path, body, type]) => raw(method, path, body, type)));
    const faults = answers.filter((a) => a.status < 400 || a.status >= 500).map((a) => `${a.label} → ${a.status} ${a.text.slice(0, 200)}`);
    expect(faults).toEqual([]);
    for (const answer of answers.filter((a) => a.status !== 431 && a.status !== 414)) {
      expect(JSON.parse(answer.text).error, answer.label).toMatch(/^[a-z][a-z_]*$/);
    }
    // The endpoint the hostile requests aimed at is as it was.
    expect((await api('GET', `/webhooks/endpoints/${id}`)).body).toMatchObject({ url: receiver.url, eventTypes: ['deal.won'], enabled: true, description: null });
    expect((await api('GET', '/webhooks/endpoints?project=sales')).body.endpoints.filter((e: { url: string }) => e.url.startsWith('http://127.0.0.1:1/'))).toEqual([]);
  });
});

describe('concurrency', () => {
  it('8 test sends at once: 8 events, each delivered exactly once', async () => {
    const { endpoint, secret } = await addEndpoint({ project: 'testing', events: ['audit.completed'] });
    const sent = await together(8, () => api('POST', `/webhooks/endpoints/${endpoint.id}/test`));
    expect(sent.map((s) => s.status)).toEqual(Array(8).fill(202));
    const ids = sent.map((s) => s.body.id as string);
    expect(new Set(ids).size).toBe(8);
    await eventually(() => { for (const id of ids) expect(requestsOf(id)).toHaveLength(1); });
    for (const id of ids) expect(verify(secret, id)[0]).toMatchObject({ id, type: 'webhook.test' });
  });

  it('8 endpoints added at once get 8 ids and 8 different secrets', async () => {
    const added = await together(8, (n) => api('POST', '/webhooks/endpoints', { project: 'sales', url: `${receiver.url}?n=${n}`, events: 'deal.won' }));
    expect(added.map((a) => a.status)).toEqual(Array(8).fill(201));
    expect(new Set(added.map((a) => a.body.endpoint.id)).size).toBe(8);
    expect(new Set(added.map((a) => a.body.secret)).size).toBe(8);
    const removed = await together(8, (n) => api('DELETE', `/webhooks/endpoints/${added[n].body.endpoint.id}`));
    expect(removed.map((r) => r.status)).toEqual(Array(8).fill(204));
  });

  it('8 disables of one endpoint at once: it ends disabled and endpoint.disabled is recorded once', async () => {
    const { endpoint } = await addEndpoint({ project: 'testing', events: ['project.won'] });
    const answers = await together(8, () => api('POST', `/webhooks/endpoints/${endpoint.id}/disable`));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    for (const answer of answers) expect(answer.body.enabled).toBe(false);
    const log = (await api('GET', '/events?type=endpoint.disabled&source=nexus&limit=100')).body.events as Array<{ data: { endpointId: string } }>;
    expect(log.filter((e) => e.data.endpointId === endpoint.id)).toHaveLength(1);
  });
});

describe('who may call', () => {
  it('a console user without the admin role gets 403; a project token or none gets 401', async () => {
    const viewer = await consoleToken('viewer@example.com', 'read_only');
    const routes: Array<[string, string]> = [
      ['GET', '/events'], ['GET', '/webhooks/endpoints'], ['POST', '/webhooks/endpoints'], ['GET', `/webhooks/endpoints/${NO_ID}`],
      ['PATCH', `/webhooks/endpoints/${NO_ID}`], ['DELETE', `/webhooks/endpoints/${NO_ID}`], ['POST', `/webhooks/endpoints/${NO_ID}/disable`],
      ['POST', `/webhooks/endpoints/${NO_ID}/rotate-secret`], ['POST', `/webhooks/endpoints/${NO_ID}/test`], ['GET', `/webhooks/endpoints/${NO_ID}/deliveries`],
      ['POST', `/webhooks/endpoints/${NO_ID}/replay-failed`], ['GET', `/webhooks/deliveries/${NO_ID}`], ['POST', `/webhooks/deliveries/${NO_ID}/replay`],
    ];
    for (const [method, path] of routes) {
      const refused = await api(method, path, method === 'GET' || method === 'DELETE' ? undefined : { project: 'sales', url: receiver.url, events: '*', since: '1h' }, viewer);
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(refused.body.error).toBe('insufficient_role');
      const project = await api(method, path, undefined, sales);
      expect(project.status, `${method} ${path} with a project token`).toBe(401);
      expect((await api(method, path, undefined, null)).status).toBe(401);
    }
    // Nothing was created by the refused calls.
    expect((await api('GET', '/webhooks/endpoints')).body.endpoints.filter((e: { eventTypes: string[]; project: string }) => e.project === 'sales' && e.eventTypes.includes('*'))).toEqual([]);
  });
});
