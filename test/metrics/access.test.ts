// Who may read /metrics without METRICS_TOKEN: this machine only, by the socket's peer address
// (never X-Forwarded-For), and not through a proxy — tested through the rule's functions and
// over the host's own non-loopback address (eth0), where the socket's peer is not loopback.
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { bearerMatches, isLoopback, metricsAccess } from '../../src/metrics/access.js';
import { QUEUE_DEPTH_CACHE_MS, queueDepthGauge } from '../../src/metrics/collectors.js';
import { together } from '../gateway/support.js';
import { parseExposition, valueOf } from './exposition.js';

const request = (remoteAddress: string | undefined, headers: http.IncomingHttpHeaders = {}) =>
  ({ headers, socket: { remoteAddress } }) as unknown as http.IncomingMessage;

/** The machine's first non-loopback IPv4 address, if it has one. */
const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

let t: TestHub;
let server: http.Server;

beforeAll(async () => {
  // No delivery worker here: what is queued stays due, so the queue's depth is known exactly.
  t = await startTestHub({ EVENT_WORKER: 'false', WEBHOOKS_ALLOW_PRIVATE_URLS: 'true' });
  // The test hub listens on 127.0.0.1 only; the same handler on every interface.
  server = http.createServer(t.hub.handler);
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await t?.stop();
});

describe('the webhook queue depth', () => {
  it('is the number of deliveries due, read from the database at the first scrape', async () => {
    await t.hub.bus.endpoints.add({ project: 'sales', url: 'http://127.0.0.1:9/hook', eventTypes: ['deal.won'] });
    await t.hub.bus.emit('sales', null, Array.from({ length: 4 }, (_, i) => ({ type: 'deal.won', data: { dealId: `d${i}` } })));
    const answer = await fetch(`${t.url}/metrics`);
    expect(answer.status).toBe(200);
    expect(valueOf(parseExposition(await answer.text()), 'nexus_webhook_queue_depth')).toBe(4);
  });
});

describe('the loopback rule', () => {
  it('knows loopback addresses, in IPv4, IPv6 and IPv4-mapped IPv6', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopback(address), address).toBe(true);
    for (const address of ['192.0.2.2', '10.0.0.1', '::ffff:10.0.0.1', 'fe80::1', '::', '0.0.0.0', '', 'localhost', '127.0.0.1\u0000', undefined]) {
      expect(isLoopback(address), String(address)).toBe(false);
    }
  });

  it('answers loopback peers, never a forwarded request, never a remote peer', () => {
    expect(metricsAccess(request('127.0.0.1'), undefined)).toBe('allowed');
    expect(metricsAccess(request('::ffff:127.0.0.1'), undefined)).toBe('allowed');
    expect(metricsAccess(request('192.0.2.2', { 'x-forwarded-for': '127.0.0.1' }), undefined)).toBe('forbidden');
    for (const name of ['x-forwarded-for', 'forwarded', 'x-real-ip']) expect(metricsAccess(request('127.0.0.1', { [name]: '203.0.113.9' }), undefined)).toBe('forbidden');
    expect(metricsAccess(request('192.0.2.2'), undefined)).toBe('forbidden');
    expect(metricsAccess(request(undefined), undefined)).toBe('forbidden');
  });

  it('with a token: the Bearer token decides, from anywhere', () => {
    const token = 'a-metrics-token-of-32-characters';
    expect(metricsAccess(request('192.0.2.2', { authorization: `Bearer ${token}` }), token)).toBe('allowed');
    expect(metricsAccess(request('127.0.0.1'), token)).toBe('unauthorized');
    for (const header of [undefined, '', token, `Bearer ${token.slice(1)}`, `Bearer ${token} `, `Bearer ${token}\u0000`, `Basic ${token}`]) {
      expect(bearerMatches(header, token), String(header)).toBe(false);
    }
    expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
  });

  it('serves the hub\'s loopback, refuses a forwarded request and the host\'s own external address', async () => {
    const { port } = server.address() as AddressInfo;
    const local = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(local.status).toBe(200);
    expect(parseExposition(await local.text()).types.get('nexus_http_requests_total')).toBe('counter');
    const forwarded = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(forwarded.status).toBe(403);
    if (!external) return; // no interface but loopback on this machine
    const remote = await fetch(`http://${external}:${port}/metrics`);
    expect(remote.status).toBe(403);
    expect(await remote.text()).not.toContain('nexus_');
  });
});

describe('the queue-depth gauge', () => {
  it('reads the depth once for parallel scrapes and once per 5 s, and keeps the last value when a read fails', async () => {
    const registry = new client.Registry();
    let clock = 1_000_000;
    let reads = 0;
    let fail = false;
    queueDepthGauge(registry, async () => {
      reads++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (fail) throw new Error('database down');
      return 7 * reads;
    }, () => clock);
    const depth = async () => valueOf(parseExposition(await registry.metrics()), 'nexus_webhook_queue_depth');
    expect(new Set(await together(10, depth))).toEqual(new Set([7]));
    expect(reads).toBe(1);
    clock += QUEUE_DEPTH_CACHE_MS - 1;
    expect(await depth()).toBe(7);
    expect(reads).toBe(1);
    clock += 1;
    expect(await depth()).toBe(14);
    expect(reads).toBe(2);
    fail = true;
    clock += QUEUE_DEPTH_CACHE_MS;
    expect(await depth()).toBe(14);
    expect(reads).toBe(3);
  });
});
