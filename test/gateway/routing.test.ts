// The gateway's routing, upstream errors and streaming, against a real Koa upstream on loopback.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { createUser, putBehindGateway, signIn, startUpstream, type Upstream } from './support.js';

let t: TestHub;
let upstream: Upstream;
let token: string;

beforeAll(async () => {
  t = await startTestHub({ GATEWAY_TIMEOUT: '1', GATEWAY_MAX_BODY_BYTES: '100000' });
  upstream = await startUpstream();
  await putBehindGateway(t, 'sales', upstream.url);
  await createUser(t, 'ada@example.com');
  token = await signIn(t, 'ada@example.com');
});
afterAll(async () => {
  await upstream?.close();
  await t?.stop();
});

const call = (path: string, init: RequestInit = {}) =>
  fetch(`${t.url}/api/gateway${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as object) } });

describe('routing', () => {
  it('forwards every method with path and query below the upstream base, streaming the body', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      const body = method === 'GET' ? undefined : JSON.stringify({ hello: 'world' });
      const response = await call('/sales/leads/42?x=1&y=%20z', { method, body, headers: body ? { 'content-type': 'application/json' } : {} });
      expect(response.status).toBe(200);
      const echo = await response.json();
      expect(echo.method).toBe(method);
      expect(echo.url).toBe('/api/leads/42?x=1&y=%20z');
      expect(echo.bodyBytes).toBe(body ? Buffer.byteLength(body) : 0);
      expect(response.headers.get('x-upstream')).toBe('yes');
      expect(response.headers.get('set-cookie')).toBeNull(); // an upstream cannot set cookies on the hub's origin
    }
    const head = await call('/sales/leads', { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('passes the upstream status through, 3xx not followed', async () => {
    expect((await call('/sales/status/404')).status).toBe(404);
    expect((await call('/sales/status/503')).status).toBe(503);
    const redirect = await call('/sales/status/302', { redirect: 'manual' });
    expect(redirect.status).toBe(302);
  });

  it('answers 404 unknown_project for projects without upstream and unknown ids', async () => {
    for (const path of ['/dream-people/x', '/nope/x', '/', '', '/SALES/x', `/${'a'.repeat(200)}/x`]) {
      const response = await call(path);
      expect(response.status, path).toBe(404);
      expect((await response.json()).error).toBe('unknown_project');
    }
  });

  it('refuses dot segments, NUL and bad encodings in the path', async () => {
    for (const path of ['/sales/../admin', '/sales/%2e%2e/admin', '/sales/a/%2E/b', '/sales/%00', '/sales/%zz', '/sales/a%5c..%5cb']) {
      const response = await new Promise<number>((resolve, reject) => {
        // A raw path: URL parsing would resolve the dot segments before sending.
        http.get({ host: '127.0.0.1', port: t.port, path: `/api/gateway${path}`, headers: { host: `localhost:${t.port}`, authorization: `Bearer ${token}` } }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject);
      });
      expect(response, path).toBe(400);
    }
  });

  it('refuses CONNECT-like and TRACE methods with 405', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${t.url}/api/gateway/sales/x`, { method: 'TRACE', headers: { authorization: `Bearer ${token}` } }, (res) => { res.resume(); resolve(res.statusCode!); });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(405);
  });
});

describe('upstream errors', () => {
  it('answers 504 upstream_timeout when the upstream is slower than the timeout', async () => {
    const started = Date.now();
    const response = await call('/sales/slow?ms=3000');
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ error: 'upstream_timeout' });
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('answers 413 for a declared or streamed body over the cap', async () => {
    const declared = await call('/sales/upload', { method: 'POST', body: Buffer.alloc(100_001) });
    expect(declared.status).toBe(413);
    expect(declared.headers.get('ratelimit-remaining')).not.toBeNull(); // admitted, then refused: the fields are there
    // Chunked: no Content-Length, the cap is counted as the body streams.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${t.url}/api/gateway/sales/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write(Buffer.alloc(10_000));
      req.end();
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body).error).toBe('payload_too_large');
  });

  it('answers 502 upstream_unavailable when the upstream is down, without its internals', async () => {
    await putBehindGateway(t, 'resonance', 'http://127.0.0.1:1/api');
    const resonanceToken = await signIn(t, 'ada@example.com', { clientId: 'resonance', redirectUri: 'http://localhost:3004/auth/callback', scope: 'openid resonance:read' });
    const response = await fetch(`${t.url}/api/gateway/resonance/x`, { headers: { authorization: `Bearer ${resonanceToken}` } });
    expect(response.status).toBe(502);
    const text = await response.text();
    expect(JSON.parse(text).error).toBe('upstream_unavailable');
    expect(text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|undici/);
  });
});

describe('streaming', () => {
  it('flushes server-sent events per chunk', async () => {
    const response = await call('/sales/sse');
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.getReader();
    const arrivals: number[] = [];
    const started = Date.now();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
      arrivals.push(Date.now() - started);
    }
    expect(text).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\n');
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    expect(arrivals[0]).toBeLessThan(300); // the first event arrived long before the last
  });
});
