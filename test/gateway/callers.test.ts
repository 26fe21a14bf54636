// Who may call through the gateway and what the project receives: identity headers set by the
// gateway alone (every spoofing variant dropped), the signed assertion, project tokens,
// gateway-audience tokens with and without project access, API keys, client credentials, and
// revocations taking effect within the verification cache's bound.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeProtectedHeader } from 'jose';
import { verifyGatewayAssertion } from '@nexus/auth';
import { startTestHub, type TestHub } from '../support/hub.js';
import { postForm } from '../support/oauth.js';
import { ProjectAccess } from '../../src/accounts/access.js';
import { ApiKeys } from '../../src/accounts/api-keys.js';
import { createApiKey, createUser, putBehindGateway, signIn, startUpstream, together, type Upstream } from './support.js';

let t: TestHub;
let upstream: Upstream;
let ada: { id: string };
let token: string;

beforeAll(async () => {
  // A 1 s verification cache keeps the revocation tests quick; the default (and maximum) is 5 s.
  t = await startTestHub({ GATEWAY_VERIFY_CACHE_SECONDS: '1' });
  upstream = await startUpstream();
  await putBehindGateway(t, 'sales', upstream.url);
  await putBehindGateway(t, 'liminal', upstream.url);
  ada = await createUser(t, 'ada@example.com');
  token = await signIn(t, 'ada@example.com');
});
afterAll(async () => {
  await upstream?.close();
  await t?.stop();
});

type Echo = { method: string; url: string; headers: Record<string, string>; rawHeaders: string[] };

/** A raw request (header names exactly as given, duplicates kept). */
function raw(method: string, path: string, headers: Array<[string, string]>, body?: string): Promise<{ status: number; json: any; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const flat = [['host', `localhost:${t.port}`] as [string, string], ...headers];
    const req = http.request({ host: '127.0.0.1', port: t.port, method, path, headers: flat.flat() as unknown as http.OutgoingHttpHeaders }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : undefined, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const valuesOf = (echo: Echo, name: string) => echo.rawHeaders.filter((_, i) => i % 2 === 0 && echo.rawHeaders[i].toLowerCase().replace(/_/g, '-') === name)
  .map((n) => echo.rawHeaders[echo.rawHeaders.indexOf(n) + 1]);

describe('what the project receives', () => {
  it('sets every identity header and a verifiable assertion; credentials and cookies stay behind', async () => {
    const response = await raw('GET', '/api/gateway/sales/leads', [['authorization', `Bearer ${token}`], ['cookie', '_session=hub-secret'], ['x-request-id', 'req-12345678']]);
    expect(response.status).toBe(200);
    const echo = response.json as Echo;
    const h = echo.headers;
    expect(h['x-nexus-user-id']).toBe(ada.id);
    expect(h['x-nexus-email']).toBe('ada@example.com');
    expect(h['x-nexus-project']).toBe('sales');
    expect(h['x-nexus-role']).toBe('user');
    expect(h['x-nexus-plan']).toBe('free');
    expect(h['x-nexus-scopes']).toBe('leads:read leads:write');
    expect(h['x-nexus-auth-method']).toBe('jwt');
    expect(h['x-nexus-key-id']).toBe('');
    expect(h['x-nexus-request-id']).toBe('req-12345678');
    expect(h.authorization).toBeUndefined();
    expect(h.cookie).toBeUndefined();
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe(`localhost:${t.port}`);
    expect(response.headers['ratelimit-limit']).toBe('60');

    const assertion = h['x-nexus-assertion'];
    expect(decodeProtectedHeader(assertion).typ).toBe('nexus-gateway+jwt');
    const who = await verifyGatewayAssertion(assertion, { issuer: t.url, audience: 'urn:nexus:sales' });
    expect(who).toMatchObject({ sub: ada.id, email: 'ada@example.com', project: 'sales', role: 'user', plan: 'free', scopes: ['leads:read', 'leads:write'], authMethod: 'jwt' });
    expect(Number(who.claims.exp) - Number(who.claims.iat)).toBeLessThanOrEqual(60);
    await expect(verifyGatewayAssertion(assertion, { issuer: t.url, audience: 'urn:nexus:dream-people' })).rejects.toThrow(/not valid/);
    // The assertion is no access token: the hub's own token check refuses it.
    const asToken = await fetch(`${t.url}/me`, { headers: { authorization: `Bearer ${assertion}` } });
    expect(asToken.status).toBe(401);

    // Reused for the next call with the same token (no new signature per request).
    const again = (await raw('GET', '/api/gateway/sales/leads', [['authorization', `Bearer ${token}`]])).json as Echo;
    expect(again.headers['x-nexus-assertion']).toBe(assertion);
  });

  it('drops every inbound x-nexus-* variant on every method, and the gateway value is the only one', async () => {
    const spoofs: Array<[string, string]> = [
      ['X-Nexus-User-Id', 'evil'], ['x-nexus-email', 'evil@example.com'], ['X_Nexus_Role', 'admin'], ['x_nexus_plan', 'enterprise'],
      ['X-NEXUS-SCOPES', 'leads:write team'], ['x-Nexus_Auth-Method', 'api_key'], ['X-Nexus-Key-Id', 'k'], ['X-Nexus-Assertion', 'forged'],
      ['x-nexus-project', 'liminal'], ['X-Nexus-Request-Id', 'forged'], ['x-nexus-extra', 'x'], ['X_NEXUS_ANYTHING', 'y'],
      ['x-forwarded-for', '6.6.6.6'], ['X-Forwarded-Host', 'evil.example'], ['forwarded', 'for=6.6.6.6'], ['x-real-ip', '6.6.6.6'],
    ];
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const response = await raw(method, '/api/gateway/sales/leads', [['authorization', `Bearer ${token}`], ...spoofs]);
      expect(response.status, method).toBe(200);
      if (method === 'HEAD') continue;
      const echo = response.json as Echo;
      for (const name of ['x-nexus-user-id', 'x-nexus-email', 'x-nexus-role', 'x-nexus-plan', 'x-nexus-scopes', 'x-nexus-auth-method', 'x-nexus-key-id', 'x-nexus-project', 'x-nexus-assertion']) {
        expect(valuesOf(echo, name), `${method} ${name}`).toHaveLength(1);
      }
      expect(echo.headers['x-nexus-role']).toBe('user');
      expect(echo.headers['x-nexus-key-id']).toBe('');
      expect(echo.headers['x-nexus-project']).toBe('sales');
      expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(echo.headers['x-forwarded-host']).toBe(`localhost:${t.port}`);
      expect(valuesOf(echo, 'x-nexus-extra')).toHaveLength(0);
      expect(valuesOf(echo, 'x-nexus-anything')).toHaveLength(0);
      expect(echo.headers.forwarded).toBeUndefined();
    }
  });

  it('refuses a Connection header naming an identity header, and drops hop-by-hop headers it names', async () => {
    for (const value of ['x-nexus-user-id', 'close, X_Nexus_Assertion', 'X-NEXUS-ROLE']) {
      const response = await raw('GET', '/api/gateway/sales/leads', [['authorization', `Bearer ${token}`], ['connection', value]]);
      expect(response.status, value).toBe(400);
      expect(response.json.error).toBe('invalid_request');
    }
    const ok = await raw('GET', '/api/gateway/sales/leads', [['authorization', `Bearer ${token}`], ['connection', 'x-custom'], ['x-custom', '1'], ['keep-alive', '5'], ['te', 'trailers']]);
    expect(ok.status).toBe(200);
    expect(ok.json.headers['x-custom']).toBeUndefined();
    expect(ok.json.headers['keep-alive']).toBeUndefined();
    expect(ok.json.headers.te).toBeUndefined();
  });

  it('never lets a spoofed identity through without credentials', async () => {
    const response = await raw('GET', '/api/gateway/sales/leads', [['x-nexus-user-id', ada.id], ['x-nexus-assertion', 'x']]);
    expect(response.status).toBe(401);
    expect(response.json.error).toBe('invalid_token');
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
  });
});

describe('who is calling', () => {
  it('refuses missing, malformed, foreign-audience and oversized credentials with 401', async () => {
    const dreamToken = await signIn(t, 'ada@example.com', { clientId: 'dream-people', redirectUri: 'http://localhost:3002/auth/callback', scope: 'openid portfolio:read' });
    const cases: Array<Array<[string, string]>> = [
      [], [['authorization', 'Bearer']], [['authorization', 'Basic abc']], [['authorization', 'Bearer not.a.jwt']],
      [['authorization', `Bearer ${dreamToken}`]], [['authorization', `Bearer ${'a'.repeat(9000)}`]],
      [['authorization', `Bearer ${token}x`]], [['x-api-key', 'nxk_live_nope']], [['authorization', 'Bearer nxk_live_' + 'A'.repeat(43)]],
    ];
    for (const headers of cases) {
      const response = await raw('GET', '/api/gateway/sales/leads', headers);
      expect(response.status, JSON.stringify(headers).slice(0, 80)).toBe(401);
    }
    const both = await raw('GET', '/api/gateway/sales/leads', [['authorization', `Bearer ${token}`], ['x-api-key', 'nxk_live_x']]);
    expect(both.status).toBe(400);
    const twoKeys = await raw('GET', '/api/gateway/sales/leads', [['x-api-key', 'nxk_live_x'], ['x-api-key', 'nxk_live_y']]);
    expect(twoKeys.status).toBe(400);
  });

  it('accepts an API key as Bearer or X-Api-Key, never forwards it, and stops a revoked key within the cache bound', async () => {
    const { key, info } = await createApiKey(t, ada.id);
    for (const headers of [[['authorization', `Bearer ${key}`]], [['x-api-key', key]], [['X-API-KEY', key]]] as Array<Array<[string, string]>>) {
      const response = await raw('POST', '/api/gateway/sales/leads', [...headers, ['content-type', 'application/json']], '{}');
      expect(response.status).toBe(200);
      const h = (response.json as Echo).headers;
      expect(h['x-nexus-auth-method']).toBe('api_key');
      expect(h['x-nexus-key-id']).toBe(info.id);
      expect(h['x-nexus-user-id']).toBe(ada.id);
      expect(h['x-nexus-scopes']).toBe('leads:read leads:write');
      expect(h['x-api-key']).toBeUndefined();
      expect(h.authorization).toBeUndefined();
      expect(JSON.stringify(response.json)).not.toContain(key);
      const who = await verifyGatewayAssertion(h['x-nexus-assertion'], { issuer: t.url, audience: 'urn:nexus:sales' });
      expect(who).toMatchObject({ authMethod: 'api_key', keyId: info.id });
    }
    await new ApiKeys(t.hub.db.prisma).revoke(info.id);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 3000) {
      status = (await raw('GET', '/api/gateway/sales/leads', [['x-api-key', key]])).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThanOrEqual(1500);
  });

  it('accepts a client-credentials token of the project (the project acting for itself)', async () => {
    const cc = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials', scope: 'leads:read' });
    expect(cc.status, cc.text).toBe(200);
    const response = await raw('GET', '/api/gateway/sales/leads', [['authorization', `Bearer ${cc.body.access_token}`]]);
    expect(response.status).toBe(200);
    expect(response.json.headers['x-nexus-user-id']).toBe('sales');
    expect(response.json.headers['x-nexus-auth-method']).toBe('jwt');
  });

  it('gateway-audience tokens: role and plan scopes computed in the target project, access checked', async () => {
    const gatewayToken = await signIn(t, 'ada@example.com', { resource: 'urn:nexus:gateway', scope: 'openid email leads:read liminal:read' });
    const sales = await raw('GET', '/api/gateway/sales/leads', [['authorization', `Bearer ${gatewayToken}`]]);
    expect(sales.status).toBe(200);
    expect(sales.json.headers['x-nexus-scopes']).toBe('leads:read'); // asked ∩ what the free plan allows in sales
    expect(sales.json.headers['x-nexus-role']).toBe('user');
    expect(sales.json.headers['x-nexus-plan']).toBe('free');
    // liminal is granted-only and the free plan does not include it.
    const denied = await raw('GET', '/api/gateway/liminal/x', [['authorization', `Bearer ${gatewayToken}`]]);
    expect(denied.status).toBe(403);
    expect(denied.json.error).toBe('access_denied');
    // A project token for sales cannot reach liminal at all.
    expect((await raw('GET', '/api/gateway/liminal/x', [['authorization', `Bearer ${token}`]])).status).toBe(401);

    await new ProjectAccess(t.hub.db.prisma).grant(ada.id, 'liminal', 'admin');
    await new Promise((r) => setTimeout(r, 1100));
    const granted = await raw('GET', '/api/gateway/liminal/x', [['authorization', `Bearer ${gatewayToken}`]]);
    expect(granted.status).toBe(200);
    expect(granted.json.headers['x-nexus-role']).toBe('admin');
    expect(granted.json.headers['x-nexus-scopes']).toBe('liminal:read'); // staff: all scopes, narrowed to what was asked
  });

  it('a third-party project cannot get a gateway token', async () => {
    const cc = await postForm(t, '/token', 'agi-safety', { grant_type: 'client_credentials', resource: 'urn:nexus:gateway' });
    expect(cc.status).toBe(400);
    expect(cc.body.error).toBe('invalid_target');
  });

  it('a disabled user stops within the cache bound', async () => {
    await createUser(t, 'bob@example.com');
    const bobToken = await signIn(t, 'bob@example.com');
    expect((await raw('GET', '/api/gateway/sales/leads', [['authorization', `Bearer ${bobToken}`]])).status).toBe(200);
    await t.hub.users.disable('bob@example.com');
    await new Promise((r) => setTimeout(r, 1100));
    expect((await raw('GET', '/api/gateway/sales/leads', [['authorization', `Bearer ${bobToken}`]])).status).toBe(401);
  });
});

describe('rate-limit fields', () => {
  it('announce an unlimited caller as the largest Structured Field integer; refusals before admission carry none', async () => {
    const cc = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials', scope: 'leads:read' });
    const unlimited = await raw('GET', '/api/gateway/sales/leads', [['authorization', `Bearer ${cc.body.access_token}`]]);
    expect(unlimited.status).toBe(200);
    expect(unlimited.headers['ratelimit-limit']).toBe('999999999999999');
    expect(unlimited.headers['ratelimit-remaining']).toBe('999999999999999');
    expect(unlimited.headers['ratelimit-reset']).toBe('0');
    // Whatever the answer of an admitted request: here the project's own 503.
    const failing = await raw('GET', '/api/gateway/sales/status/503', [['authorization', `Bearer ${token}`]]);
    expect(failing.status).toBe(503);
    expect(failing.headers['ratelimit-limit']).toBe('60');
    expect(Number(failing.headers['ratelimit-remaining'])).toBeLessThan(60);
    const refused = await raw('GET', '/api/gateway/sales/leads', [['authorization', 'Bearer nope']]);
    expect(refused.status).toBe(401);
    expect(refused.headers['ratelimit-limit']).toBeUndefined();
  });
});

describe('refusals are remembered', () => {
  const wave = async (count: number, headers: Array<[string, string]>) => {
    const statuses: number[] = [];
    // Waves of 10 at once behind a barrier: parallel identical requests share one check, later ones hit the cache.
    for (let sent = 0; sent < count; sent += 10) statuses.push(...(await together(10, () => raw('GET', '/api/gateway/sales/leads', headers))).map((r) => r.status));
    return statuses;
  };

  it('50 requests with one wrong API key cost one key lookup', async () => {
    const lookups = vi.spyOn(ApiKeys.prototype, 'verify');
    try {
      const statuses = await wave(50, [['x-api-key', `nxk_live_${'B'.repeat(43)}`]]);
      expect(statuses.every((status) => status === 401)).toBe(true);
      expect(lookups).toHaveBeenCalledTimes(1);
    } finally {
      lookups.mockRestore();
    }
  });

  it('50 requests with one forged token cost one signature check', async () => {
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(342)}`; // a well-formed RS256 signature that does not verify
    // Every signature check reads the hub's verification keys once.
    const verifications = vi.spyOn(t.hub.host as unknown as { verificationKeys: unknown }, 'verificationKeys', 'get');
    try {
      const statuses = await wave(50, [['authorization', `Bearer ${forged}`]]);
      expect(statuses.every((status) => status === 401)).toBe(true);
      expect(verifications).toHaveBeenCalledTimes(1);
    } finally {
      verifications.mockRestore();
    }
    // The real token is another credential: unaffected.
    expect((await raw('GET', '/api/gateway/sales/leads', [['authorization', `Bearer ${token}`]])).status).toBe(200);
  });
});
