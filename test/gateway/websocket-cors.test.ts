// WebSocket upgrades through the gateway (authenticated like requests, Origin checked, closed
// when the credential expires), CORS for browser apps, a Python http.server upstream, and the
// per-request log line with per-project counters.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { startTestHub, type TestHub } from '../support/hub.js';
import { freePort } from '../support/process.js';
import { ApiKeys } from '../../src/accounts/api-keys.js';
import { createApiKey, createUser, putBehindGateway, signIn, startUpstream, type Upstream } from './support.js';

let t: TestHub;
let upstream: Upstream;
let wsServer: http.Server;
let python: ChildProcess;
let pythonPort: number;
let token: string;
let key: string;
let gatewayToken: string;
const seen: Array<Record<string, string | string[] | undefined>> = [];

beforeAll(async () => {
  t = await startTestHub();
  upstream = await startUpstream();
  // A WebSocket upstream that echoes and reports the identity headers of its handshake.
  wsServer = http.createServer();
  const wss = new WebSocketServer({ server: wsServer });
  wss.on('connection', (socket, req) => {
    seen.push(req.headers);
    socket.send(JSON.stringify({ user: req.headers['x-nexus-user-id'], url: req.url }));
    socket.on('message', (data) => socket.send(`echo:${data}`));
  });
  await new Promise<void>((resolve) => wsServer.listen(0, '127.0.0.1', resolve));
  await putBehindGateway(t, 'sales', upstream.url, { corsOrigins: ['https://app.sales.example'] });
  await putBehindGateway(t, 'dream-people', `http://127.0.0.1:${(wsServer.address() as AddressInfo).port}/ws`);

  pythonPort = await freePort();
  // Debian's Python with packages/python: it checks the assertion with nexus_auth.
  python = spawn('/usr/bin/python3', ['-c', `
import json, http.server
from nexus_auth import verify_gateway_assertion, InvalidToken
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            verified = verify_gateway_assertion(self.headers.get('X-Nexus-Assertion'), '${t.url}', 'urn:nexus:resonance')
        except InvalidToken as error:
            verified = {'error': str(error)}
        body = json.dumps({'headers': {k.lower(): v for k, v in self.headers.items()}, 'verified': verified}).encode()
        self.send_response(200); self.send_header('content-type', 'application/json'); self.send_header('content-length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', ${pythonPort}), H).serve_forever()
`], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PYTHONPATH: path.resolve('packages/python') } });
  await putBehindGateway(t, 'resonance', `http://127.0.0.1:${pythonPort}`);

  const ada = await createUser(t, 'ada@example.com');
  token = await signIn(t, 'ada@example.com', { scope: 'openid email leads:read' });
  key = (await createApiKey(t, ada.id)).key;
  gatewayToken = await signIn(t, 'ada@example.com', { resource: 'urn:nexus:gateway', scope: 'openid email' });
});
afterAll(async () => {
  python?.kill();
  await new Promise((resolve) => { wsServer?.closeAllConnections(); wsServer?.close(resolve); });
  await upstream?.close();
  await t?.stop();
});

const wsUrl = (path: string) => `ws://localhost:${t.port}/api/gateway${path}`;

function open(path: string, headers: Record<string, string>): Promise<{ socket: WebSocket; first: string } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(path), { headers });
    socket.once('message', (data) => resolve({ socket, first: String(data) }));
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    socket.once('error', reject);
  });
}

describe('WebSocket', () => {
  it('upgrades an authenticated handshake, with identity headers, and relays both ways', async () => {
    const opened = await open('/dream-people/chat?room=1', { authorization: `Bearer ${key}`, 'x-nexus-user-id': 'evil', x_nexus_role: 'admin' });
    if (!('socket' in opened)) throw new Error(`refused: ${opened.status} ${opened.body}`);
    expect(JSON.parse(opened.first)).toMatchObject({ url: '/ws/chat?room=1' });
    const headers = seen.at(-1)!;
    expect(headers['x-nexus-auth-method']).toBe('api_key');
    expect(headers['x-nexus-project']).toBe('dream-people');
    expect(headers['x-nexus-role']).toBe('user');
    expect(headers.authorization).toBeUndefined();
    expect(String(headers['x-nexus-assertion'])).toMatch(/^ey/);
    const reply = new Promise<string>((resolve) => opened.socket.once('message', (d) => resolve(String(d))));
    opened.socket.send('hello');
    expect(await reply).toBe('echo:hello');
    opened.socket.close();
  });

  it('refuses handshakes without credentials, from a foreign Origin, or to unknown projects', async () => {
    const none = await open('/dream-people/chat', {});
    expect(none).toMatchObject({ status: 401 });
    expect(JSON.parse((none as { body: string }).body).error).toBe('invalid_token');
    const foreign = await open('/dream-people/chat', { authorization: `Bearer ${key}`, origin: 'https://evil.example' });
    expect(foreign).toMatchObject({ status: 403 });
    const allowed = await open('/dream-people/chat', { authorization: `Bearer ${key}`, origin: 'http://localhost:3002' });
    expect('socket' in allowed).toBe(true);
    if ('socket' in allowed) allowed.socket.close();
    expect(await open('/nope/chat', { authorization: `Bearer ${key}` })).toMatchObject({ status: 404 });
    expect(await open('/dream-people/a%5c..%5cb', { authorization: `Bearer ${key}` })).toMatchObject({ status: 400 });
  });

  it('takes a browser token from the nexus.bearer.* subprotocol, and neither the upstream nor the 101 ever shows it', async () => {
    const handshake = (protocols: string[], headers: Record<string, string> = {}) => new Promise<{ socket: WebSocket; protocol: string; answer: http.IncomingMessage } | { status: number }>((resolve, reject) => {
      const socket = new WebSocket(wsUrl('/dream-people/chat'), protocols, { headers: { origin: 'http://localhost:3002', ...headers } });
      let answer: http.IncomingMessage;
      socket.once('upgrade', (res) => { answer = res; });
      socket.once('open', () => resolve({ socket, protocol: socket.protocol, answer }));
      socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode! }));
      socket.once('error', reject);
    });
    const opened = await handshake([`nexus.bearer.${gatewayToken}`, 'chat.v1', 'chat.v0']);
    if (!('socket' in opened)) throw new Error(`refused: ${opened.status}`);
    expect(opened.protocol).toBe('chat.v1');
    expect(opened.answer.rawHeaders.join('\n')).not.toContain(gatewayToken);
    expect(Number(opened.answer.headers['ratelimit-limit'])).toBeGreaterThan(0);
    const upstreamSaw = seen.at(-1)!;
    expect(upstreamSaw['sec-websocket-protocol']).toBe('chat.v1, chat.v0');
    expect(JSON.stringify(upstreamSaw)).not.toContain(gatewayToken);
    expect(upstreamSaw['x-nexus-auth-method']).toBe('jwt');
    opened.socket.close();
    // An API key works the same way.
    const withKey = await handshake([`nexus.bearer.${key}`, 'chat.v1']);
    expect('socket' in withKey).toBe(true);
    if ('socket' in withKey) withKey.socket.close();
    // Without an application protocol next to it (no 101 could select one), with a second
    // credential, with two tokens, with a bad token, from a foreign origin: refused.
    expect(await handshake([`nexus.bearer.${gatewayToken}`])).toEqual({ status: 400 });
    expect(await handshake([`nexus.bearer.${gatewayToken}`, 'chat.v1'], { authorization: `Bearer ${key}` })).toEqual({ status: 400 });
    expect(await handshake([`nexus.bearer.${gatewayToken}`, `nexus.bearer.${key}`, 'chat.v1'])).toEqual({ status: 400 });
    expect(await handshake([`nexus.bearer.${gatewayToken}x`, 'chat.v1'])).toEqual({ status: 401 });
    expect(await handshake([`nexus.bearer.${gatewayToken}`, 'chat.v1'], { origin: 'https://evil.example' })).toEqual({ status: 403 });
  });

  it('closes the socket when the credential that opened it expires', async () => {
    const ada = await t.hub.users.get('ada@example.com');
    const { key: shortKey } = await new ApiKeys(t.hub.db.prisma).create({ userId: ada.id, name: 'short', env: 'live', expiresIn: '2s' });
    const opened = await open('/dream-people/chat', { 'x-api-key': shortKey });
    if (!('socket' in opened)) throw new Error(`refused: ${opened.status}`);
    const started = Date.now();
    await new Promise((resolve) => opened.socket.once('close', resolve));
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('refuses upgrades outside the gateway', async () => {
    const status = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`ws://localhost:${t.port}/jwks`);
      socket.once('unexpected-response', (_req, res) => resolve(res.statusCode!));
      socket.once('error', () => resolve(0));
    });
    expect(status).toBe(404);
  });
});

describe('CORS', () => {
  it('answers preflights for allowed origins only, and exposes the rate-limit headers', async () => {
    const preflight = await fetch(`${t.url}/api/gateway/sales/leads`, {
      method: 'OPTIONS', headers: { origin: 'https://app.sales.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.sales.example');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    const refused = await fetch(`${t.url}/api/gateway/sales/leads`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(refused.status).toBe(403);
    const actual = await fetch(`${t.url}/api/gateway/sales/leads`, { headers: { origin: 'https://app.sales.example', authorization: `Bearer ${token}` } });
    expect(actual.status).toBe(200);
    expect(actual.headers.get('access-control-allow-origin')).toBe('https://app.sales.example');
    expect(actual.headers.get('access-control-expose-headers')).toMatch(/RateLimit-Remaining/);
    const other = await fetch(`${t.url}/api/gateway/sales/leads`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${token}` } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('defaults to the origins of the redirect URIs', async () => {
    const preflight = await fetch(`${t.url}/api/gateway/dream-people/x`, { method: 'OPTIONS', headers: { origin: 'http://localhost:3002', 'access-control-request-method': 'GET' } });
    expect(preflight.status).toBe(204);
  });
});

describe('a Python upstream', () => {
  it('receives one value per identity header whatever underscores the caller sent', async () => {
    let response: Response | undefined;
    for (let i = 0; i < 50 && response?.status !== 200; i++) {
      response = await fetch(`${t.url}/api/gateway/resonance/x`, { headers: { 'x-api-key': key, X_Nexus_Email: 'evil@example.com', 'x-nexus-email': 'evil2@example.com' } });
      if (response.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(response!.status).toBe(200);
    const { headers, verified } = await response!.json();
    expect(headers['x-nexus-email']).toBe('ada@example.com');
    expect(headers['x_nexus_email']).toBeUndefined();
    expect(headers['x-nexus-project']).toBe('resonance');
    // nexus_auth.verify_gateway_assertion accepts the gateway's assertion...
    expect(verified).toMatchObject({ email: 'ada@example.com', project: 'resonance', auth_method: 'api_key', aud: 'urn:nexus:resonance' });
    // ...and a direct call with forged headers has none to show.
    const direct = await (await fetch(`http://127.0.0.1:${pythonPort}/x`, { headers: { 'x-nexus-email': 'evil@example.com', 'x-nexus-assertion': 'eyJhbGciOiJub25lIn0.e30.' } })).json();
    expect(direct.verified.error).toMatch(/gateway assertion/);
  });
});

describe('monitoring', () => {
  it('counts requests per project by status class, with upstream latency', async () => {
    await fetch(`${t.url}/api/gateway/sales/leads`, { headers: { authorization: `Bearer ${token}` } });
    await fetch(`${t.url}/api/gateway/sales/leads`);
    const counters = t.hub.gateway.metrics.snapshot().sales;
    expect(counters.requests['2xx']).toBeGreaterThanOrEqual(1);
    expect(counters.requests['4xx']).toBeGreaterThanOrEqual(1);
    expect(counters.latency.count).toBeGreaterThanOrEqual(1);
    expect(counters.bytesOut).toBeGreaterThan(0);
  });
});
