// Retries on a shortened schedule (WEBHOOK_RETRY_SCHEDULE=1s,1s,1s: four attempts in all):
// a receiver that fails twice then succeeds, one that never does, one that hangs past
// WEBHOOK_TIMEOUT, one that redirects (never followed); every attempt logged; an endpoint that
// fails for WEBHOOK_DISABLE_AFTER is disabled with endpoint.disabled to the administrators;
// replay of one delivery and replay-failed of an endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { addEndpoint, call, emit, eventually, projectToken, Receiver, sleep, together, type Behaviour } from './support.js';

const SCHEDULE = { WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s,1s,1s', WEBHOOK_TIMEOUT: '1' };

let hub: TestHub;
let sales: string;
const receivers: Receiver[] = [];

async function receiver(behaviour?: Behaviour) {
  const started = await Receiver.start(behaviour);
  receivers.push(started);
  return started;
}

interface Delivery {
  id: string;
  eventId: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  attemptLog: Array<{ attemptedAt: string; status: number | null; latencyMs: number | null; response: string | null; error: string | null }>;
}

/** The endpoint's only delivery once it is finished (delivered or failed), with its attempts. */
async function finished(hubUrl: string, token: string, endpointId: string, timeoutMs = 15_000): Promise<Delivery> {
  return eventually(async () => {
    const { body } = await call(hubUrl, token, 'GET', `/api/webhooks/endpoints/${endpointId}/deliveries`);
    expect(body.deliveries).toHaveLength(1);
    expect(body.deliveries[0].status).not.toBe('pending');
    return (await call(hubUrl, token, 'GET', `/api/webhooks/deliveries/${body.deliveries[0].id}`)).body as Delivery;
  }, timeoutMs, 200);
}

beforeAll(async () => {
  hub = await startTestHub(SCHEDULE);
  sales = await projectToken(hub.url, 'sales', hub.secrets.sales);
});
afterAll(async () => {
  await hub?.stop();
  await Promise.all(receivers.map((r) => r.close()));
});

describe('retries', () => {
  it('delivers on the third attempt to a receiver that failed twice, logging each attempt', async () => {
    const flaky = await receiver((_req, res, n) => (n <= 2 ? res.writeHead(500).end(`${'E'.repeat(3000)}`) : res.writeHead(200).end('ok')));
    const { endpoint, secret } = await addEndpoint(hub.url, sales, flaky.url, ['deal.won']);
    const [event] = await emit(hub.url, sales, { type: 'deal.won', data: { n: 1 } });

    const delivery = await finished(hub.url, sales, endpoint.id);
    expect(delivery).toMatchObject({ eventId: event.id, status: 'delivered', attempts: 3, lastStatus: 200 });
    expect(delivery.attemptLog.map((a) => a.status)).toEqual([500, 500, 200]);
    for (const attempt of delivery.attemptLog) expect(attempt.latencyMs).toEqual(expect.any(Number));
    // The first KB of each answer, no more.
    expect(delivery.attemptLog[0].response).toBe('E'.repeat(1024));
    expect(delivery.attemptLog[0].error).toBe('answered 500');
    expect(delivery.attemptLog[2]).toMatchObject({ response: 'ok', error: null });
    // On the schedule: a second between attempts.
    const times = flaky.requests.map((r) => r.at);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(900);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(900);
    // Every attempt is the same event, signed anew.
    expect(new Set(flaky.ids())).toEqual(new Set([event.id]));
    expect(flaky.verified(secret).map((e) => e.id)).toEqual([event.id, event.id, event.id]);
  });

  it('gives up after the schedule when the receiver never succeeds', async () => {
    const broken = await receiver((_req, res) => res.writeHead(503).end('down'));
    const { endpoint } = await addEndpoint(hub.url, sales, broken.url, ['deal.lost']);
    await emit(hub.url, sales, { type: 'deal.lost' });
    const delivery = await finished(hub.url, sales, endpoint.id);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 4, lastStatus: 503, lastError: 'answered 503' });
    expect(delivery.attemptLog.map((a) => a.status)).toEqual([503, 503, 503, 503]);
    await sleep(1_500);
    expect(broken.requests).toHaveLength(4);
    const failed = await call(hub.url, sales, 'GET', `/api/webhooks/endpoints/${endpoint.id}/deliveries?failed=true`);
    expect(failed.body.deliveries.map((d: Delivery) => d.id)).toEqual([delivery.id]);
  });

  it('counts a receiver that answers after WEBHOOK_TIMEOUT as a timed-out attempt', async () => {
    const hanging = await receiver(() => {});
    const { endpoint } = await addEndpoint(hub.url, sales, hanging.url, ['deal.stalled']);
    await emit(hub.url, sales, { type: 'deal.stalled' });
    const attempt = await eventually(async () => {
      const { body } = await call(hub.url, sales, 'GET', `/api/webhooks/endpoints/${endpoint.id}/deliveries`);
      const { attemptLog } = (await call(hub.url, sales, 'GET', `/api/webhooks/deliveries/${body.deliveries[0].id}`)).body as Delivery;
      expect(attemptLog.length).toBeGreaterThan(0);
      return attemptLog[0];
    }, 10_000, 200);
    expect(attempt).toMatchObject({ status: null, error: 'timed out' });
    expect(attempt.latencyMs).toBeGreaterThanOrEqual(900);
    expect(attempt.latencyMs).toBeLessThan(3_000);
  });

  it('does not follow a redirect: the 302 is a failed attempt and its target gets nothing', async () => {
    const target = await receiver();
    const redirecting = await receiver((_req, res) => res.writeHead(302, { location: target.url }).end());
    const { endpoint } = await addEndpoint(hub.url, sales, redirecting.url, ['deal.moved']);
    await emit(hub.url, sales, { type: 'deal.moved' });
    const delivery = await finished(hub.url, sales, endpoint.id);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 4, lastStatus: 302, lastError: 'answered 302' });
    expect(redirecting.requests).toHaveLength(4);
    expect(target.requests).toHaveLength(0);
  });
});

describe('replay', () => {
  it('sends a finished delivery again as a new one, and every failed one of an endpoint since a time', async () => {
    let up = false;
    const comeback = await receiver((_req, res) => (up ? res.writeHead(204).end() : res.writeHead(500).end()));
    const { endpoint, secret } = await addEndpoint(hub.url, sales, comeback.url, ['lead.lost']);
    const events = await emit(hub.url, sales, [{ type: 'lead.lost', data: { n: 1 } }, { type: 'lead.lost', data: { n: 2 } }, { type: 'lead.lost', data: { n: 3 } }]);
    const failed = await eventually(async () => {
      const { body } = await call(hub.url, sales, 'GET', `/api/webhooks/endpoints/${endpoint.id}/deliveries?failed=true`);
      expect(body.deliveries).toHaveLength(3);
      return body.deliveries as Delivery[];
    }, 15_000, 200);
    up = true;

    // A pending or unknown delivery cannot be replayed.
    expect((await call(hub.url, sales, 'POST', '/api/webhooks/deliveries/00000000-0000-4000-8000-000000000000/replay')).status).toBe(404);

    const one = await call(hub.url, sales, 'POST', `/api/webhooks/deliveries/${failed[0].id}/replay`);
    expect(one.status, JSON.stringify(one.body)).toBe(202);
    expect(one.body).toMatchObject({ replayed: failed[0].id, delivery: expect.any(String) });
    const replayed = await eventually(async () => {
      const { body } = await call(hub.url, sales, 'GET', `/api/webhooks/deliveries/${one.body.delivery}`);
      expect(body.status).toBe('delivered');
      return body as Delivery;
    }, 10_000, 100);
    expect(replayed.eventId).toBe(failed[0].eventId);
    // The old delivery keeps its history.
    expect((await call(hub.url, sales, 'GET', `/api/webhooks/deliveries/${failed[0].id}`)).body).toMatchObject({ status: 'failed', attempts: 4 });
    expect((await call(hub.url, sales, 'POST', `/api/webhooks/deliveries/${one.body.delivery}/replay`)).status).toBe(202);

    const all = await call(hub.url, sales, 'POST', `/api/webhooks/endpoints/${endpoint.id}/replay-failed`, { since: '1h' });
    expect(all.status, JSON.stringify(all.body)).toBe(202);
    expect(all.body.replayed).toBe(3);
    expect((await call(hub.url, sales, 'POST', `/api/webhooks/endpoints/${endpoint.id}/replay-failed`, {})).status).toBe(400);

    await eventually(async () => {
      const { body } = await call(hub.url, sales, 'GET', `/api/webhooks/endpoints/${endpoint.id}/deliveries?limit=100`);
      expect(body.deliveries.filter((d: Delivery) => d.status === 'delivered')).toHaveLength(5);
    }, 10_000, 100);
    const delivered = comeback.verified(secret).slice(-5).map((e) => e.id);
    expect(new Set(delivered)).toEqual(new Set(events.map((e) => e.id)));
  });
});

describe('replay-failed again', () => {
  it('replays each event once more, not also its replays that failed meanwhile', async () => {
    const down = await receiver((_req, res) => res.writeHead(500).end());
    const { endpoint } = await addEndpoint(hub.url, sales, down.url, ['lead.stale']);
    await emit(hub.url, sales, [{ type: 'lead.stale', data: { n: 1 } }, { type: 'lead.stale', data: { n: 2 } }]);
    const failedCount = (count: number) => eventually(async () => {
      const { body } = await call(hub.url, sales, 'GET', `/api/webhooks/endpoints/${endpoint.id}/deliveries?failed=true`);
      expect(body.deliveries).toHaveLength(count);
    }, 15_000, 200);
    await failedCount(2);
    for (const round of [1, 2]) {
      const replayed = await call(hub.url, sales, 'POST', `/api/webhooks/endpoints/${endpoint.id}/replay-failed`, { since: '1h' });
      // Two events, two replays: in round 2 not also the originals beside their failed replays.
      expect(replayed.body.replayed, `round ${round}`).toBe(2);
      await failedCount(2 + 2 * round);
    }
  });
});

describe('disabling after failing', () => {
  let strict: TestHub;
  afterAll(() => strict?.stop());

  it('disables an endpoint that failed for WEBHOOK_DISABLE_AFTER and tells the administrators\' endpoint', async () => {
    strict = await startTestHub({ ...SCHEDULE, WEBHOOK_DISABLE_AFTER: '1s' });
    const token = await projectToken(strict.url, 'sales', strict.secrets.sales);
    const admins = await receiver();
    const adminEndpoint = await strict.hub.bus.endpoints.add({ project: null, url: admins.url, eventTypes: ['endpoint.*'] });
    const broken = await receiver((_req, res) => res.writeHead(500).end());
    const { endpoint } = await addEndpoint(strict.url, token, broken.url, ['deal.*']);
    await emit(strict.url, token, { type: 'deal.won' });

    await admins.waitFor(1, 15_000);
    const [notice] = admins.verified(adminEndpoint.secret);
    expect(notice).toMatchObject({
      type: 'endpoint.disabled', source: 'nexus', actor: { type: 'system', id: 'event-worker' },
      data: { endpointId: endpoint.id, project: 'sales', url: broken.url, reason: 'every delivery failed for too long' },
    });
    const shown = await call(strict.url, token, 'GET', `/api/webhooks/endpoints/${endpoint.id}`);
    expect(shown.body).toMatchObject({ enabled: false, disabledReason: 'every delivery failed for too long' });
    // Its pending delivery was given up (failed, so replay-failed can send it once it works).
    const { body } = await call(strict.url, token, 'GET', `/api/webhooks/endpoints/${endpoint.id}/deliveries`);
    expect(body.deliveries.map((d: Delivery) => d.status)).toEqual(['failed']);
    const attempts = broken.requests.length;
    await emit(strict.url, token, { type: 'deal.won' });
    await sleep(1_500);
    expect(broken.requests).toHaveLength(attempts);

    // Enabled again: replay-failed delivers what was given up.
    expect((await call(strict.url, token, 'POST', `/api/webhooks/endpoints/${endpoint.id}/enable`)).body.enabled).toBe(true);
    expect((await call(strict.url, token, 'POST', `/api/webhooks/endpoints/${endpoint.id}/replay-failed`, { since: '1h' })).body.replayed).toBe(1);
    await eventually(() => expect(broken.requests.length).toBeGreaterThan(attempts), 5_000);
  });
});

describe('disabling at once from many callers', () => {
  it('emits endpoint.disabled once when 8 disables of one endpoint race', async () => {
    const target = await receiver();
    const { endpoint } = await addEndpoint(hub.url, sales, target.url, ['deal.raced']);
    const answers = await together(8, () => call(hub.url, sales, 'POST', `/api/webhooks/endpoints/${endpoint.id}/disable`));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(answers.every((a) => a.body.enabled === false)).toBe(true);
    const notices = (await hub.hub.bus.store.list({ type: 'endpoint.disabled', source: 'nexus', limit: 1000 })).filter((e) => e.data.endpointId === endpoint.id);
    expect(notices).toHaveLength(1);
    expect(notices[0].actor).toEqual({ type: 'client', id: 'sales' });

    const enabled = await together(8, () => call(hub.url, sales, 'POST', `/api/webhooks/endpoints/${endpoint.id}/enable`));
    expect(enabled.every((a) => a.status === 200 && a.body.enabled === true)).toBe(true);
  });
});
