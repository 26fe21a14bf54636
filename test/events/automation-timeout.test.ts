// An automation call is bounded by WEBHOOK_TIMEOUT, not by the (longer) gateway timeout: the
// delivery worker's claim outlives it, so a slow project is never called twice at once (it was,
// when the claim lapsed while the call still waited), and a never-ending answer is not waited for.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { closeServer } from '../support/process.js';
import { createUser, putBehindGateway } from '../gateway/support.js';
import { emit, eventually, projectToken, sleep } from './support.js';

let t: TestHub;
let upstream: http.Server;
const calls: Array<{ at: number; eventId: string }> = [];
let behaviour: 'hang' | 'drip' = 'hang';

beforeAll(async () => {
  // The shipped automations.json: deal.won from sales → POST dream-people /transactions.
  t = await startTestHub({ WEBHOOK_TIMEOUT: '1', GATEWAY_TIMEOUT: '60', WEBHOOK_RETRY_SCHEDULE: '1s' });
  upstream = http.createServer((req, res) => {
    calls.push({ at: Date.now(), eventId: String(req.headers['x-nexus-event-id']) });
    req.resume();
    if (behaviour === 'drip') {
      // Headers at once, then a byte a second for ever: only the first KB is the run's business.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('x'.repeat(2048));
      const timer = setInterval(() => res.write('x'), 1000);
      res.on('close', () => clearInterval(timer));
    }
    // 'hang': no answer at all.
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  await putBehindGateway(t, 'dream-people', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/api`);
});

afterAll(async () => {
  upstream?.closeAllConnections();
  await t?.stop();
  if (upstream) await closeServer(upstream);
});

describe('automation calls and the worker\'s lease', () => {
  it('a project that never answers: each attempt times out after WEBHOOK_TIMEOUT, one call per attempt', async () => {
    behaviour = 'hang';
    const token = await projectToken(t.url, 'sales', t.secrets.sales, 'events:write');
    const ada = await createUser(t, 'slow@example.com');
    const [{ id }] = await emit(t.url, token, { type: 'deal.won', subject: ada.id, data: { dealValue: 5 } });
    const run = await eventually(async () => {
      const found = (await t.hub.bus.deliveries.list({ eventId: id })).find((d) => d.rule === 'sales-commission');
      expect(found?.status).toBe('failed');
      return found!;
    }, 20_000);
    expect(run.attempts).toBe(2);
    expect(run.lastError).toMatch(/upstream_timeout/);
    const mine = calls.filter((c) => c.eventId === id);
    expect(mine).toHaveLength(2);
    // The second call is the retry (1 s timeout + 1 s schedule), not a lapsed claim's twin.
    expect(mine[1].at - mine[0].at).toBeGreaterThanOrEqual(1_500);
    await sleep(1_500);
    expect(calls.filter((c) => c.eventId === id)).toHaveLength(2);
  });

  it('an endless answer: the run keeps its first KB and finishes', async () => {
    behaviour = 'drip';
    const token = await projectToken(t.url, 'sales', t.secrets.sales, 'events:write');
    const bo = await createUser(t, 'drip@example.com');
    const [{ id }] = await emit(t.url, token, { type: 'deal.won', subject: bo.id, data: { dealValue: 6 } });
    const run = await eventually(async () => {
      const found = (await t.hub.bus.deliveries.list({ eventId: id })).find((d) => d.rule === 'sales-commission');
      expect(found?.status).toBe('delivered');
      return found!;
    }, 10_000);
    expect(run).toMatchObject({ attempts: 1, lastStatus: 200 });
    const detail = await t.hub.bus.deliveries.get(run.id);
    expect(detail!.attemptLog[0].response).toBe('x'.repeat(1024));
  });
});
