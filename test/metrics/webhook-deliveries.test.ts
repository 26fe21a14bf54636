// nexus_webhook_deliveries_total{outcome}: the delivery thread counts each webhook attempt in
// shared memory and /metrics reads it at scrape time. Three events to a receiver that answers 204
// and to one that answers 500 on a one-retry schedule: 3 delivered, 3 retrying, then 3 failed.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { addEndpoint, emit, eventually, projectToken, Receiver } from '../events/support.js';
import { parseExposition, valueOf } from './exposition.js';

const TOKEN = randomBytes(24).toString('hex');
let t: TestHub;
let good: Receiver;
let bad: Receiver;

beforeAll(async () => {
  t = await startTestHub({ METRICS_TOKEN: TOKEN, WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s', WEBHOOK_TIMEOUT: '2' });
  good = await Receiver.start();
  bad = await Receiver.start((_req, res) => res.writeHead(500).end());
});

afterAll(async () => {
  await Promise.allSettled([good?.close(), bad?.close()]);
  await t?.stop();
});

async function outcomes() {
  const response = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.status).toBe(200);
  const exposition = parseExposition(await response.text());
  return Object.fromEntries(['delivered', 'retrying', 'failed'].map((outcome) => [outcome, valueOf(exposition, 'nexus_webhook_deliveries_total', { outcome })]));
}

it('counts webhook attempts by outcome: delivered, retrying, failed', async () => {
  expect(await outcomes()).toEqual({ delivered: 0, retrying: 0, failed: 0 });
  const token = await projectToken(t.url, 'sales', t.secrets.sales);
  await addEndpoint(t.url, token, good.url, ['deal.*']);
  await addEndpoint(t.url, token, bad.url, ['deal.*']);
  await emit(t.url, token, [1, 2, 3].map((n) => ({ type: 'deal.won', data: { n } })));
  await eventually(async () => expect(await outcomes()).toEqual({ delivered: 3, retrying: 3, failed: 3 }), 20_000, 200);
  expect(good.requests).toHaveLength(3);
  expect(bad.requests).toHaveLength(6);
});
