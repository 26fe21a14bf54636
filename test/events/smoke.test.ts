// First end-to-end path of the bus: a project emits, its endpoint receives a signed delivery
// that the independent standardwebhooks library verifies.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startTestHub, type TestHub } from '../support/hub.js';

let hub: TestHub;
let receiver: http.Server;
let receiverUrl: string;
const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];

async function ccToken(scope: string) {
  const res = await fetch(`${hub.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`sales:${hub.secrets.sales}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  const body = await res.json() as { access_token: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.access_token;
}

beforeAll(async () => {
  hub = await startTestHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s,1s' });
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { received.push({ headers: req.headers, body }); res.writeHead(204).end(); });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
});
afterAll(async () => {
  await hub?.stop();
  receiver?.close();
});

describe('event bus smoke', () => {
  it('emits, stores and delivers a signed webhook', async () => {
    const token = await ccToken('events:write events:read webhooks:manage');
    const created = await fetch(`${hub.url}/api/webhooks/endpoints`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiverUrl, events: ['deal.*'] }),
    });
    const { endpoint, secret } = await created.json() as { endpoint: { id: string }; secret: string };
    expect(created.status).toBe(201);
    expect(secret).toMatch(/^whsec_/);

    const posted = await fetch(`${hub.url}/api/events`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'deal.won', data: { dealId: 'd1', value: 1200 }, id: 'deal-d1' }),
    });
    const answer = await posted.json() as { events: Array<{ id: string; duplicate: boolean; sequence: number }> };
    expect(posted.status, JSON.stringify(answer)).toBe(202);
    expect(answer.events[0].duplicate).toBe(false);

    const again = await fetch(`${hub.url}/api/events`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'deal.won', data: { dealId: 'd1', value: 1200 }, id: 'deal-d1' }),
    });
    expect(again.status).toBe(200);
    expect(((await again.json()) as typeof answer).events[0]).toMatchObject({ id: answer.events[0].id, duplicate: true });

    for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(received).toHaveLength(1);
    const event = new Webhook(secret).verify(received[0].body, received[0].headers as Record<string, string>) as Record<string, unknown>;
    expect(event).toMatchObject({ id: answer.events[0].id, type: 'deal.won', source: 'sales', data: { dealId: 'd1', value: 1200 }, actor: { type: 'client', id: 'sales' } });
    expect(received[0].headers['webhook-id']).toBe(answer.events[0].id);

    const listed = await fetch(`${hub.url}/api/webhooks/endpoints/${endpoint.id}/deliveries`, { headers: { authorization: `Bearer ${token}` } });
    const { deliveries } = await listed.json() as { deliveries: Array<{ status: string }> };
    for (let i = 0; i < 20 && deliveries[0]?.status !== 'delivered'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(listed.status).toBe(200);
  });
});
