// Hostile input at /api/gateway: NUL bytes, huge and repeated params and headers, wrong and odd
// methods, malformed credentials, raw protocol abuse. Nothing answers 5xx (the upstream is up,
// so not even 502/504). Also the log: exactly one JSON line per gateway request, with no
// token, key or query string in it.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { closeServer, freePort } from '../support/process.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createHub, type Hub } from '../../src/app.js';
import { createApiKey, createUser, putBehindGateway, signIn, startUpstream, type Upstream } from './support.js';

let a: TestHub;
let b: { hub: Hub; server: http.Server; port: number };
let upstream: Upstream;
let token: string;
let key: string;
let logFile: string;
let logFd: number;

beforeAll(async () => {
  a = await startTestHub();
  upstream = await startUpstream();
  await putBehindGateway(a, 'sales', upstream.url);
  const ada = await createUser(a, 'ada@example.com');
  token = await signIn(a, 'ada@example.com');
  key = (await createApiKey(a, ada.id)).key;
  // A second instance logging to a file, to read its lines.
  logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nexus-gw-log-')), 'hub.log');
  logFd = fs.openSync(logFile, 'a');
  const port = await freePort();
  const hub = await createHub(loadConfig({ ...a.env, PORT: String(port), LOG_LEVEL: 'info' }), createLogger('info', logFd));
  const { handler } = hub;
  // Behind a load balancer that passes the public Host on.
  const server = http.createServer((req, res) => {
    req.headers.host = `localhost:${a.port}`;
    return handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  b = { hub, server, port };
});
afterAll(async () => {
  if (b) {
    await closeServer(b.server);
    await b.hub.close();
  }
  if (logFd) fs.closeSync(logFd);
  await upstream?.close();
  await a?.stop();
});

/** A raw HTTP/1.1 exchange on a socket: returns the status code (0 when the server hung up). */
function rawRequest(port: number, text: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    let data = '';
    socket.on('data', (c) => { data += c; });
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    socket.on('error', () => resolve(0));
  });
}

function request(method: string, pathAndQuery: string, headers: Array<[string, string]> = [], body?: string | Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const flat = [['host', `localhost:${a.port}`], ...headers].flat();
    const req = http.request({ host: '127.0.0.1', port: a.port, method, path: pathAndQuery, headers: flat as unknown as http.OutgoingHttpHeaders }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const auth = (): Array<[string, string]> => [['authorization', `Bearer ${token}`]];

describe('hostile input', () => {
  it('paths and queries: NUL, invalid UTF-8, over-long, repeated parameters', async () => {
    const paths = [
      '/api/gateway/sales/%00', '/api/gateway/%00/x', '/api/gateway/sales%00/x', '/api/gateway/sales/a?x=%00', '/api/gateway/sales/%ff%fe',
      '/api/gateway/sales/?q=%zz', `/api/gateway/sales/${'a'.repeat(7000)}`, `/api/gateway/sales/x?${'a=1&'.repeat(1500)}`,
      `/api/gateway/${'x'.repeat(5000)}/y`, '/api/gateway//sales', '/api/gateway/sales//x', '/api/gateway/sales/%2fetc%2fpasswd',
      '/api/gateway/sales/..%2f..%2fadmin', '/api/gateway/sales/%2e', '/api/gateway/sales/x#frag', '/api/gateway/-/x', '/api/gateway/sales/\u00e9',
    ];
    for (const p of paths) {
      for (const headers of [auth(), [] as Array<[string, string]>]) {
        // (Node's client refuses a raw non-ASCII path itself: that counts as a refusal.)
        const status = await request('GET', p, headers).catch(() => 400);
        expect(status, p.slice(0, 80)).toBeLessThan(500);
      }
    }
  });

  it('headers: repeated, huge, NUL and odd credentials', async () => {
    const many: Array<[string, string]> = Array.from({ length: 200 }, (_, i) => [i % 2 ? 'x-nexus-user-id' : 'X_Nexus_Role', `v${i}`]);
    const cases: Array<Array<[string, string]>> = [
      [...auth(), ...many],
      [...auth(), ['x-big', 'a'.repeat(12_000)]],
      [['authorization', `Bearer ${token}`], ['authorization', 'Bearer other']],
      [['authorization', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']],
      [['authorization', `Bearer ${'a.'.repeat(3000)}`]],
      [['authorization', 'bearer    ' + token]],
      [['x-api-key', `${key}\t`]],
      [['x-api-key', key.slice(0, -1)]],
      [['x-api-key', 'nxk_live_' + '%00'.repeat(15)]],
      [['x-api-key', '']],
      [...auth(), ['content-length', '5']],
      [...auth(), ['connection', 'keep-alive, '.repeat(500)]],
      [...auth(), ['expect', '100-continue']],
      [...auth(), ['origin', 'null']],
      [...auth(), ['transfer-encoding', 'gzip, chunked']],
    ];
    for (const headers of cases) {
      const status = await request('POST', '/api/gateway/sales/x', headers, headers.some(([n]) => n === 'content-length') ? 'abcde' : undefined).catch(() => 400);
      expect(status, JSON.stringify(headers.map(([n, v]) => [n, v.slice(0, 20)])).slice(0, 300)).toBeLessThan(500);
    }
    // A NUL or a bare CR inside a header is refused by the HTTP parser itself (400).
    for (const bad of ['x-nexus-user-id: a\u0000b', `authorization: Bearer ${token}\rx-nexus-role: admin`]) {
      const status = await rawRequest(a.port, `GET /api/gateway/sales/x HTTP/1.1\r\nhost: localhost:${a.port}\r\n${bad}\r\n\r\n`);
      expect(status === 0 || (status >= 400 && status < 500), bad).toBe(true);
    }
  });

  it('methods: every method Node parses, with and without credentials', async () => {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'LOCK', 'PURGE', 'SEARCH', 'REPORT', 'LINK']) {
      for (const headers of [auth(), [] as Array<[string, string]>]) {
        const status = await request(method, '/api/gateway/sales/x', headers);
        expect(status, method).toBeLessThan(500);
      }
    }
    // CONNECT is routed by Node to its own event: the hub hangs up or refuses, never 5xx.
    const connect = await rawRequest(a.port, `CONNECT localhost:${a.port} HTTP/1.1\r\nhost: localhost:${a.port}\r\n\r\n`);
    expect(connect < 500).toBe(true);
  });

  it('bodies: invalid JSON, NUL bytes and binary pass through untouched', async () => {
    for (const body of ['{"a":"\u0000"}', '{bad', Buffer.from([0, 255, 254, 0]), 'x'.repeat(50_000)]) {
      const status = await request('POST', '/api/gateway/sales/x', [...auth(), ['content-type', 'application/json']], body);
      expect(status).toBe(200);
    }
  });
});

describe('the log', () => {
  it('writes exactly one JSON line per gateway request, without tokens, keys or queries', async () => {
    const ids = ['gw-log-00000001', 'gw-log-00000002', 'gw-log-00000003'];
    const base = `http://127.0.0.1:${b.port}/api/gateway/sales/leads`;
    const host = { host: `localhost:${a.port}` };
    await fetch(`${base}?secret=query-value`, { headers: { ...host, authorization: `Bearer ${token}`, 'x-request-id': ids[0] } });
    await fetch(base, { headers: { ...host, 'x-api-key': key, 'x-request-id': ids[1] } });
    await fetch(base, { headers: { ...host, 'x-request-id': ids[2] } });
    await new Promise((r) => setTimeout(r, 200));
    const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
    for (const id of ids) {
      const mine = lines.filter((line) => line.requestId === id);
      expect(mine, id).toHaveLength(1);
      expect(mine[0]).toMatchObject({ event: 'gateway', project: 'sales', method: 'GET', path: '/api/gateway/sales/leads' });
      expect(typeof mine[0].status).toBe('number');
      expect(typeof mine[0].bytesOut).toBe('number');
    }
    const [jwtLine, keyLine, anonymous] = ids.map((id) => lines.find((line) => line.requestId === id));
    expect(jwtLine).toMatchObject({ status: 200, authMethod: 'jwt' });
    expect(jwtLine.upstreamMs).toBeGreaterThan(0);
    expect(jwtLine.user).toBeTruthy();
    expect(keyLine).toMatchObject({ status: 200, authMethod: 'api_key' });
    expect(keyLine.keyId).toBeTruthy();
    expect(anonymous).toMatchObject({ status: 401, error: 'invalid_token' });
    const text = fs.readFileSync(logFile, 'utf8');
    expect(text).not.toContain(token);
    expect(text).not.toContain(key);
    expect(text).not.toContain('query-value');
  });
});
