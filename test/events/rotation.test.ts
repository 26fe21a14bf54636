// Secret rotation: after rotate-secret each delivery carries the new and the previous signature
// side by side, so a receiver holding either secret verifies it (standardwebhooks); once the
// grace period is over only the new secret signs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startTestHub, type TestHub } from '../support/hub.js';
import { addEndpoint, call, emit, projectToken, Receiver, sleep, type Received } from './support.js';

let hub: TestHub;
let receiver: Receiver;
let sales: string;

beforeAll(async () => {
  hub = await startTestHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s' });
  receiver = await Receiver.start();
  sales = await projectToken(hub.url, 'sales', hub.secrets.sales);
});
afterAll(async () => {
  await hub?.stop();
  await receiver?.close();
});

/** Emits one event and answers the request that delivered it. */
async function deliver(n: number): Promise<Received> {
  const [event] = await emit(hub.url, sales, { type: 'deal.won', data: { n } });
  await receiver.waitFor(n);
  const request = receiver.requests.find((r) => r.id === event.id);
  expect(request).toBeDefined();
  return request!;
}

const verifies = (secret: string, request: Received) => {
  try {
    new Webhook(secret).verify(request.body, request.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
};
const signatures = (request: Received) => String(request.headers['webhook-signature']).split(' ');

describe('rotate-secret', () => {
  it('signs with both secrets during the grace period and with the new one only after it', async () => {
    const { endpoint, secret: first } = await addEndpoint(hub.url, sales, receiver.url, ['deal.won']);
    const before = await deliver(1);
    expect(signatures(before)).toHaveLength(1);
    expect(verifies(first, before)).toBe(true);

    const rotated = await call(hub.url, sales, 'POST', `/api/webhooks/endpoints/${endpoint.id}/rotate-secret`);
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const second = rotated.body.secret as string;
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    // 24 hours of grace by default.
    expect(new Date(rotated.body.endpoint.previousSecretUntil).getTime() - Date.now()).toBeGreaterThan(23.9 * 3600_000);

    const during = await deliver(2);
    expect(signatures(during)).toHaveLength(2);
    expect(signatures(during).every((s) => s.startsWith('v1,'))).toBe(true);
    expect(verifies(first, during)).toBe(true);
    expect(verifies(second, during)).toBe(true);

    // Rotated again with a grace of 1.5 s: the first secret is gone, the second signs until then.
    const { secret: third } = await hub.hub.bus.endpoints.rotateSecret(endpoint.id, {}, 1_500);
    const graced = await deliver(3);
    expect(signatures(graced)).toHaveLength(2);
    expect(verifies(third, graced)).toBe(true);
    expect(verifies(second, graced)).toBe(true);
    expect(verifies(first, graced)).toBe(false);

    await sleep(1_700);
    expect((await call(hub.url, sales, 'GET', `/api/webhooks/endpoints/${endpoint.id}`)).body.previousSecretUntil).toBeNull();
    const after = await deliver(4);
    expect(signatures(after)).toHaveLength(1);
    expect(verifies(third, after)).toBe(true);
    expect(verifies(second, after)).toBe(false);

    // Without grace the replaced secret stops at once.
    const { secret: fourth } = await hub.hub.bus.endpoints.rotateSecret(endpoint.id, {}, 0);
    const immediate = await deliver(5);
    expect(signatures(immediate)).toHaveLength(1);
    expect(verifies(fourth, immediate)).toBe(true);
    expect(verifies(third, immediate)).toBe(false);
  });

  it('is refused for another project\'s endpoint as if it did not exist', async () => {
    const { endpoint } = await addEndpoint(hub.url, sales, receiver.url, ['lead.qualified']);
    const agi = await projectToken(hub.url, 'agi-safety', hub.secrets['agi-safety']);
    const refused = await call(hub.url, agi, 'POST', `/api/webhooks/endpoints/${endpoint.id}/rotate-secret`);
    expect(refused.status).toBe(404);
    expect(refused.body.error).toBe('endpoint_not_found');
  });
});
