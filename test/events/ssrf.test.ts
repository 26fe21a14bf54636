// The SSRF guard with WEBHOOKS_ALLOW_PRIVATE_URLS unset: private, loopback, link-local and
// plain-http targets are refused when an endpoint is saved, and a name that resolves to a
// loopback address when a delivery connects (DNS rebinding) is refused at the socket — the
// attempt is logged, nothing reaches the address. The dispatcher is also exercised directly
// against a loopback server, with and without the flag.
import dns from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startTestHub, type TestHub } from '../support/hub.js';
import { isPublicAddress, webhookDispatcher } from '../../src/events/ssrf.js';
import { addEndpoint, call, emit, eventually, projectToken } from './support.js';

let hub: TestHub;
let sales: string;
/** A plain TCP server on loopback that counts every connection made to it. */
let trap: net.Server;
let trapPort: number;
let connections = 0;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  hub = await startTestHub({ WEBHOOK_RETRY_SCHEDULE: '1s', WEBHOOK_TIMEOUT: '2' });
  sales = await projectToken(hub.url, 'sales', hub.secrets.sales);
  trap = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.end('HTTP/1.1 204 No Content\r\n\r\n');
  });
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
  trapPort = (trap.address() as AddressInfo).port;
});
afterAll(async () => {
  await hub?.stop();
  // An idle keep-alive socket of the dispatcher would hold close() open.
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => trap?.close(resolve));
});

describe('at creation', () => {
  it.each([
    ['plain http', 'http://example.com/hook'],
    ['IPv4 loopback', 'https://127.0.0.1/hook'],
    ['another loopback address', 'https://127.1.2.3/hook'],
    ['10.x', 'https://10.0.0.7/hook'],
    ['192.168.x', 'https://192.168.1.1/hook'],
    ['172.16.x', 'https://172.16.0.1/hook'],
    ['CGNAT', 'https://100.64.0.1/hook'],
    ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data'],
    ['0.0.0.0', 'https://0.0.0.0/hook'],
    ['IPv6 loopback', 'https://[::1]/hook'],
    ['IPv4-mapped IPv6 loopback', 'https://[::ffff:127.0.0.1]/hook'],
    ['IPv4-mapped IPv6 metadata address', 'https://[::ffff:a9fe:a9fe]/hook'],
    ['IPv6 unique local', 'https://[fd00::1]/hook'],
    ['IPv6 link-local', 'https://[fe80::1]/hook'],
    ['localhost', 'https://localhost/hook'],
    ['a name under localhost', 'https://api.localhost/hook'],
    ['a decimal IPv4 loopback', 'https://2130706433/hook'],
    ['a hex IPv4 loopback', 'https://0x7f000001/hook'],
    ['credentials', 'https://user:pw@example.com/hook'],
    ['a fragment', 'https://example.com/hook#x'],
    ['not a URL', 'hook'],
    ['another scheme', 'ftp://example.com/hook'],
  ])('refuses %s with 400', async (_label, url) => {
    const answer = await call(hub.url, sales, 'POST', '/api/webhooks/endpoints', { url, events: ['deal.won'] });
    expect(answer.status, JSON.stringify(answer.body)).toBe(400);
    expect(answer.body.error).toBe('invalid_endpoint');
  });

  it('refuses a private URL in an update too, and accepts a public https URL', async () => {
    const { endpoint } = await addEndpoint(hub.url, sales, 'https://example.com/hook', ['deal.won']);
    const patched = await call(hub.url, sales, 'PATCH', `/api/webhooks/endpoints/${endpoint.id}`, { url: 'https://10.1.1.1/hook' });
    expect(patched.status).toBe(400);
    expect((await call(hub.url, sales, 'GET', `/api/webhooks/endpoints/${endpoint.id}`)).body.url).toBe('https://example.com/hook');
    await call(hub.url, sales, 'DELETE', `/api/webhooks/endpoints/${endpoint.id}`);
  });
});

/** A name of this machine that resolves to loopback through /etc/hosts, other than localhost. */
async function loopbackName(): Promise<string | undefined> {
  for (const name of [os.hostname(), 'runsc', 'vm']) {
    const addresses = await dns.lookup(name, { all: true }).catch(() => []);
    if (addresses.length && addresses.every((a) => !isPublicAddress(a.address))) return name;
  }
  return undefined;
}

describe('at delivery', () => {
  /** Delivers one event to an endpoint and answers its first attempt. */
  async function firstAttempt(endpointId: string, type: string) {
    await emit(hub.url, sales, { type });
    return eventually(async () => {
      const { body } = await call(hub.url, sales, 'GET', `/api/webhooks/endpoints/${endpointId}/deliveries`);
      const delivery = (await call(hub.url, sales, 'GET', `/api/webhooks/deliveries/${body.deliveries[0].id}`)).body;
      expect(delivery.attemptLog.length).toBeGreaterThan(0);
      return delivery.attemptLog[0] as { status: number | null; error: string };
    }, 10_000, 100);
  }

  it('refuses at connect a name that now resolves to loopback (a stored URL rebound to localhost)', async () => {
    const { endpoint } = await addEndpoint(hub.url, sales, 'https://example.com/hook', ['deal.rebound']);
    // As if example.com's DNS now answered 127.0.0.1: the stored URL's name resolves to loopback.
    await hub.hub.db.prisma.webhookEndpoint.update({ where: { id: endpoint.id }, data: { url: `https://localhost:${trapPort}/hook` } });
    const attempt = await firstAttempt(endpoint.id, 'deal.rebound');
    expect(attempt).toMatchObject({ status: null, error: 'refused: the address is not public' });
    expect(connections).toBe(0);
  });

  it('accepts a DNS name at creation and refuses it at connect when it resolves to loopback', async (context) => {
    const name = await loopbackName();
    if (!name) return context.skip();
    const { endpoint } = await addEndpoint(hub.url, sales, `https://${name}:${trapPort}/hook`, ['deal.hosts']);
    const attempt = await firstAttempt(endpoint.id, 'deal.hosts');
    expect(attempt).toMatchObject({ status: null, error: 'refused: the address is not public' });
    expect(connections).toBe(0);
  });
});

describe('webhookDispatcher', () => {
  const url = (host: string) => `http://${host}:${trapPort}/hook`;

  it('refuses loopback by literal address and by name before connecting', async () => {
    const guarded = webhookDispatcher(false, 1_000);
    try {
      for (const host of ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]']) {
        const error = await request(url(host), { method: 'POST', dispatcher: guarded, body: '{}' }).then(() => undefined, (e: { code?: string }) => e);
        expect(error, host).toMatchObject({ code: 'EBLOCKEDADDRESS' });
      }
      expect(connections).toBe(0);
    } finally {
      await guarded.close();
    }
  });

  it('reaches the same server with WEBHOOKS_ALLOW_PRIVATE_URLS', async () => {
    const open = webhookDispatcher(true, 1_000);
    try {
      const answer = await request(url('localhost'), { method: 'POST', dispatcher: open, body: '{}' });
      await answer.body.dump();
      expect(answer.statusCode).toBe(204);
      expect(connections).toBe(1);
    } finally {
      await open.close();
    }
  });

  it('classes addresses', () => {
    for (const address of ['127.0.0.1', '10.0.0.1', '169.254.169.254', '::1', '::ffff:127.0.0.1', 'fd00::1', '100.64.0.1', '0.0.0.0', '224.0.0.1', 'not-an-ip']) {
      expect(isPublicAddress(address), address).toBe(false);
    }
    for (const address of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111']) expect(isPublicAddress(address), address).toBe(true);
  });
});
