// Nothing is lost when the hub dies mid-delivery: the hub runs as a real process, a receiver
// holds its first requests open, and with most events still queued the process gets SIGKILL.
// Restarted on the same database, the hub delivers every event at least once: the queued ones
// at once, the ones that were in flight when their claims lapse (WEBHOOK_TIMEOUT + 15 s). The
// receiver deduplicates on webhook-id, as receivers must.
import { afterAll, describe, expect, it } from 'vitest';
import { startProcessHub, type ProcessHub } from '../support/process-hub.js';
import { runServer, waitForReady, type ServerProcess } from '../support/process.js';
import { addEndpoint, call, emit, eventually, projectToken, Receiver } from './support.js';

const EVENTS = 40;
const CONCURRENCY = 4;
const TIMEOUT_S = 3;

let hub: ProcessHub | undefined;
let restarted: ServerProcess | undefined;
let receiver: Receiver | undefined;

afterAll(async () => {
  await restarted?.stop('SIGKILL');
  await hub?.stop();
  await receiver?.close();
});

describe('SIGKILL mid-delivery', () => {
  it('delivers every event after a restart on the same database', async () => {
    let holding = true;
    const accepted = new Set<string>();
    receiver = await Receiver.start((req, res) => {
      if (holding) return; // held open until the hub dies
      accepted.add(String(req.headers['webhook-id']));
      res.writeHead(204).end();
    });
    hub = await startProcessHub({
      WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_TIMEOUT: String(TIMEOUT_S), WEBHOOK_RETRY_SCHEDULE: '1s,1s,1s,1s,1s',
      WEBHOOK_CONCURRENCY: String(CONCURRENCY), LOG_LEVEL: 'info',
    });
    const token = await projectToken(hub.url, 'sales', hub.secrets.sales);
    const { secret } = await addEndpoint(hub.url, token, receiver.url, ['deal.won']);
    const events = await emit(hub.url, token, Array.from({ length: EVENTS }, (_, n) => ({ type: 'deal.won', data: { n } })));
    const emitted = new Set(events.map((e) => e.id));
    expect(emitted.size).toBe(EVENTS);

    // The worker's whole concurrency is held by the receiver; the rest is queued. Kill now,
    // well before the hub's own timeout would record the held attempts as failures.
    await receiver.waitFor(CONCURRENCY, 10_000);
    const killedAt = Date.now();
    await hub.server.stop('SIGKILL');
    const inFlight = new Set(receiver.ids());
    expect(inFlight.size).toBe(CONCURRENCY);
    expect(Date.now() - killedAt).toBeLessThan(TIMEOUT_S * 1000);

    holding = false;
    restarted = runServer(hub.env);
    await waitForReady(hub.url, restarted);
    // The queued events come at once; the claimed ones once their leases lapse.
    await eventually(() => expect([...accepted].sort()).toEqual([...emitted].sort()), 60_000, 250);
    for (const id of inFlight) expect(accepted.has(id)).toBe(true);
    expect(receiver.verified(secret).length).toBeGreaterThanOrEqual(EVENTS);

    const listed = await call(hub.url, token, 'GET', '/api/webhooks/endpoints');
    const endpointId = listed.body.endpoints[0].id as string;
    await eventually(async () => {
      const { body } = await call(hub!.url, token, 'GET', `/api/webhooks/endpoints/${endpointId}/deliveries?limit=1000`);
      expect(body.deliveries).toHaveLength(EVENTS);
      expect(body.deliveries.every((d: { status: string }) => d.status === 'delivered')).toBe(true);
    }, 10_000, 250);
  }, 120_000);
});
