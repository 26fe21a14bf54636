// The framework adapters on real apps: Koa (nexusKoa), Express 5 (nexusExpress + nexusErrors)
// through supertest, and the Next.js middleware shape (nexusNext) with WHATWG Requests. Tokens
// are signed here and verified against a JWKS served by a local stand-in hub.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import Koa from 'koa';
import Router from '@koa/router';
import express from 'express';
import {
  createVerifier, extractToken, nexusErrors, nexusExpress, nexusKoa, nexusNext, requireRole, requireScope, TOKEN_COOKIE,
  type Principal, type Verifier,
} from '@nexus/auth';
import { makeKey, signToken, startFakeHub, type FakeHub, type SigningKey } from './helpers.js';

const AUDIENCE = 'urn:nexus:sales';
let key: SigningKey;
let hub: FakeHub;
let verifier: Verifier;
let good: string; // scope leads:read, role user
let expired: string;

beforeAll(async () => {
  key = await makeKey('mw');
  hub = await startFakeHub([key]);
  verifier = createVerifier({ issuer: hub.issuer, audience: AUDIENCE });
  good = await signToken(key, { issuer: hub.issuer, claims: { sub: 'u-7', email: 'lin@example.com', role: 'user', scope: 'leads:read' } });
  expired = await signToken(key, { issuer: hub.issuer, expiresIn: -60, iat: Math.floor(Date.now() / 1000) - 600 });
});
afterAll(() => hub?.close());

const bearer = (token: string) => `Bearer ${token}`;

/**
 * 401/403 JSON with RFC 6750 headers. `missing`: the request had no credentials at all, so the
 * challenge carries no error code (RFC 6750 §3.1).
 */
function expectApiDenial(response: request.Response, status: number, error: string, description?: RegExp, missing = false) {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toMatch(/application\/json/);
  expect(response.body.error).toBe(error);
  expect(typeof response.body.error_description).toBe('string');
  if (description) expect(response.body.error_description).toMatch(description);
  const oauthError = status === 401 ? 'invalid_token' : 'insufficient_scope';
  if (missing) expect(response.headers['www-authenticate']).toBe('Bearer realm="nexus"');
  else expect(response.headers['www-authenticate']).toMatch(new RegExp(`^Bearer realm="nexus", error="${oauthError}", error_description="[^"]*"$`));
  expect(response.headers['cache-control']).toBe('no-store');
}

const NO_TOKEN = /no access token/;

describe('shared: extractToken', () => {
  it('reads the Bearer header (any case), else the nexus_token cookie', () => {
    expect(extractToken('Bearer abc', 'nexus_token=def')).toBe('abc');
    expect(extractToken('bearer abc', undefined)).toBe('abc');
    expect(extractToken('Basic abc', 'a=1; nexus_token=def; b=2')).toBe('def');
    expect(extractToken(undefined, 'nexus_tokens=x; xnexus_token=y')).toBeUndefined();
    expect(extractToken('Bearer a b', undefined)).toBeUndefined();
    expect(TOKEN_COOKIE).toBe('nexus_token');
  });

  it('a malformed cookie value does not throw', () => {
    expect(() => extractToken(undefined, 'nexus_token=%E0%A4%A')).not.toThrow();
  });
});

describe('Koa (nexusKoa)', () => {
  function koaApp(options: Parameters<typeof nexusKoa>[1] = {}) {
    const router = new Router();
    router.get('/api/leads', (ctx) => {
      const principal = ctx.state.nexus as Principal;
      requireScope(principal, 'leads:read');
      ctx.body = { sub: principal.sub, email: principal.email };
    });
    router.post('/api/leads', (ctx) => {
      requireScope(ctx.state.nexus as Principal, 'leads:write');
      ctx.status = 201;
    });
    router.get('/api/admin', (ctx) => {
      requireRole(ctx.state.nexus as Principal, 'admin');
      ctx.body = {};
    });
    router.get('/api/boom', () => { throw new Error('not an auth error'); });
    router.get('/dashboard', (ctx) => { ctx.body = `<h1>${(ctx.state.nexus as Principal).sub}</h1>`; });
    router.post('/dashboard', (ctx) => { ctx.body = 'posted'; });
    const app = new Koa();
    app.silent = true;
    app.use(nexusKoa(verifier, options));
    app.use(router.routes());
    return app.callback();
  }

  it('accepts the Bearer header and the nexus_token cookie', async () => {
    const app = koaApp();
    const viaHeader = await request(app).get('/api/leads').set('authorization', bearer(good));
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.body).toEqual({ sub: 'u-7', email: 'lin@example.com' });
    const viaCookie = await request(app).get('/api/leads').set('cookie', `theme=dark; nexus_token=${good}`);
    expect(viaCookie.status).toBe(200);
    expect(viaCookie.body.sub).toBe('u-7');
    const page = await request(app).get('/dashboard').set('cookie', `${TOKEN_COOKIE}=${good}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('u-7');
    // The header wins over the cookie.
    expect((await request(app).get('/api/leads').set('authorization', bearer(expired)).set('cookie', `nexus_token=${good}`)).status).toBe(401);
  });

  it('answers an API call without a valid token with 401 JSON and WWW-Authenticate', async () => {
    const app = koaApp();
    expectApiDenial(await request(app).get('/api/leads'), 401, 'invalid_token', NO_TOKEN, true);
    expectApiDenial(await request(app).get('/api/leads').set('authorization', bearer(expired)), 401, 'invalid_token', /expired/);
    expectApiDenial(await request(app).get('/api/leads').set('authorization', 'Bearer not.a.jwt'), 401, 'invalid_token', /malformed/);
    expectApiDenial(await request(app).get('/api/leads').set('cookie', 'nexus_token=garbage'), 401, 'invalid_token', /malformed/);
    expectApiDenial(await request(app).post('/api/leads'), 401, 'invalid_token', NO_TOKEN, true);
  });

  it('a page request without a token is redirected to /login?returnTo=…', async () => {
    const app = koaApp();
    const response = await request(app).get('/dashboard?tab=leads&x=1');
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe(`/login?returnTo=${encodeURIComponent('/dashboard?tab=leads&x=1')}`);
    const expiredPage = await request(app).get('/dashboard').set('cookie', `nexus_token=${expired}`);
    expect(expiredPage.status).toBe(302);
    expect((await request(app).head('/dashboard')).status).toBe(302);
    const custom = await request(koaApp({ loginUrl: '/auth/start?via=nexus' })).get('/elsewhere?q=1');
    expect(custom.status).toBe(302);
    expect(custom.headers.location).toBe(`/auth/start?via=nexus&returnTo=${encodeURIComponent('/elsewhere?q=1')}`);
  });

  it('sends a page request without a token towards /login?returnTo=… (Location header)', async () => {
    const app = koaApp();
    const response = await request(app).get('/dashboard?tab=leads&x=1');
    expect(response.headers.location).toBe(`/login?returnTo=${encodeURIComponent('/dashboard?tab=leads&x=1')}`);
    expect([302, 204]).toContain(response.status);
  });

  it('answers a non-GET page request without a token with 401 (no redirect)', async () => {
    expectApiDenial(await request(koaApp()).post('/dashboard'), 401, 'invalid_token', NO_TOKEN, true);
  });

  it('answers guards thrown by later handlers with 403 JSON; other errors stay 500', async () => {
    const app = koaApp();
    expectApiDenial(await request(app).post('/api/leads').set('authorization', bearer(good)), 403, 'insufficient_scope', /missing scope leads:write/);
    expectApiDenial(await request(app).get('/api/admin').set('authorization', bearer(good)), 403, 'insufficient_role', /admin/);
    expect((await request(app).get('/api/boom').set('authorization', bearer(good))).status).toBe(500);
  });

  it('honours loginUrl, isApi and realm', async () => {
    const app = koaApp({ loginUrl: '/auth/start?via=nexus', isApi: (path) => path.startsWith('/api/') || path === '/dashboard', realm: 'sales' });
    const page = await request(app).get('/elsewhere?q=1');
    expect(page.headers.location).toBe(`/auth/start?via=nexus&returnTo=${encodeURIComponent('/elsewhere?q=1')}`);
    const api = await request(app).get('/dashboard');
    expect(api.status).toBe(401);
    expect(api.headers['www-authenticate']).toBe('Bearer realm="sales"');
    const expiredApi = await request(app).get('/dashboard').set('authorization', bearer(expired));
    expect(expiredApi.headers['www-authenticate']).toMatch(/^Bearer realm="sales", error="invalid_token"/);
  });

  it('works with options instead of a verifier, on a real listening server', async () => {
    const app = new Koa();
    app.use(nexusKoa({ issuer: hub.issuer, audience: AUDIENCE }));
    app.use((ctx) => { ctx.body = { sub: (ctx.state.nexus as Principal).sub }; });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as { port: number };
      const ok = await fetch(`http://127.0.0.1:${port}/api/x`, { headers: { authorization: bearer(good) } });
      expect(await ok.json()).toEqual({ sub: 'u-7' });
      const denied = await fetch(`http://127.0.0.1:${port}/api/x`);
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer /);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a malformed nexus_token cookie is a 401, not a 500', async () => {
    expectApiDenial(await request(koaApp()).get('/api/leads').set('cookie', 'nexus_token=%E0%A4%A'), 401, 'invalid_token');
  });
});

describe('Express 5 (nexusExpress + nexusErrors)', () => {
  function expressApp() {
    const app = express();
    app.use(nexusExpress(verifier));
    app.get('/api/leads', (req, res) => {
      const principal = (req as unknown as { nexus: Principal }).nexus;
      requireScope(principal, 'leads:read');
      res.json({ sub: principal.sub, email: principal.email });
    });
    app.post('/api/leads', async (req) => {
      await Promise.resolve();
      requireScope((req as unknown as { nexus: Principal }).nexus, 'leads:write'); // async throw: Express 5 forwards it
    });
    app.get('/api/boom', () => { throw new Error('not an auth error'); });
    app.get('/dashboard', (req, res) => { res.send(`<h1>${(req as unknown as { nexus: Principal }).nexus.sub}</h1>`); });
    app.use(nexusErrors());
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: 'server_error', message: error.message });
    });
    return app;
  }

  it('accepts the Bearer header and the nexus_token cookie', async () => {
    const app = expressApp();
    const viaHeader = await request(app).get('/api/leads').set('authorization', bearer(good));
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.body).toEqual({ sub: 'u-7', email: 'lin@example.com' });
    const viaCookie = await request(app).get('/api/leads').set('cookie', `nexus_token=${good}; theme=dark`);
    expect(viaCookie.status).toBe(200);
    const page = await request(app).get('/dashboard').set('cookie', `nexus_token=${good}`);
    expect(page.text).toContain('u-7');
  });

  it('answers an API call without a valid token with 401 JSON and WWW-Authenticate', async () => {
    const app = expressApp();
    expectApiDenial(await request(app).get('/api/leads'), 401, 'invalid_token', NO_TOKEN, true);
    expectApiDenial(await request(app).get('/api/leads').set('authorization', bearer(expired)), 401, 'invalid_token', /expired/);
    expectApiDenial(await request(app).post('/api/leads').set('cookie', `nexus_token=${expired}`), 401, 'invalid_token');
  });

  it('redirects a page request without a token to /login?returnTo=…', async () => {
    const response = await request(expressApp()).get('/dashboard?tab=leads');
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe(`/login?returnTo=${encodeURIComponent('/dashboard?tab=leads')}`);
  });

  it('answers guards (sync and async handlers) with 403 JSON; other errors reach the next handler', async () => {
    const app = expressApp();
    expectApiDenial(await request(app).post('/api/leads').set('authorization', bearer(good)), 403, 'insufficient_scope', /leads:write/);
    const boom = await request(app).get('/api/boom').set('authorization', bearer(good));
    expect(boom.status).toBe(500);
    expect(boom.body).toEqual({ error: 'server_error', message: 'not an auth error' });
  });

  it('protects a router mounted with app.use("/api", …) for token holders', async () => {
    const app = express();
    app.use('/api', nexusExpress(verifier));
    app.get('/api/portfolio', (req, res) => res.json({ sub: (req as unknown as { nexus: Principal }).nexus.sub }));
    app.use(nexusErrors());
    expect((await request(app).get('/api/portfolio').set('authorization', bearer(good))).body).toEqual({ sub: 'u-7' });
    expect((await request(app).post('/api/portfolio')).status).toBe(401);
  });

  it('GET /api/... without a token under app.use("/api") is a 401, not a redirect', async () => {
    const app = express();
    app.use('/api', nexusExpress(verifier));
    app.get('/api/portfolio', (_req, res) => res.json({}));
    app.use(nexusErrors());
    expectApiDenial(await request(app).get('/api/portfolio'), 401, 'invalid_token', NO_TOKEN, true);
  });

  it('a malformed nexus_token cookie is a 401, not a 500', async () => {
    expectApiDenial(await request(expressApp()).get('/api/leads').set('cookie', 'nexus_token=%E0%A4%A'), 401, 'invalid_token');
  });
});

describe('Next.js middleware shape (nexusNext)', () => {
  const origin = 'https://app.nexus.example';
  const middleware = () => nexusNext({ issuer: hub.issuer, audience: AUDIENCE });

  it('lets a request with a valid token continue (undefined), header or cookie', async () => {
    const mw = middleware();
    expect(await mw(new Request(`${origin}/dashboard`, { headers: { authorization: bearer(good) } }))).toBeUndefined();
    expect(await mw(new Request(`${origin}/api/leads`, { headers: { cookie: `nexus_token=${good}` } }))).toBeUndefined();
  });

  it('redirects a page without a token to the login page with returnTo', async () => {
    const response = await middleware()(new Request(`${origin}/dashboard/reports?month=5`));
    expect(response).toBeInstanceOf(Response);
    expect(response!.status).toBe(302);
    expect(response!.headers.get('location')).toBe(`${origin}/login?returnTo=${encodeURIComponent('/dashboard/reports?month=5')}`);
  });

  it('answers /api without a valid token with 401 JSON and WWW-Authenticate', async () => {
    for (const init of [{}, { headers: { authorization: bearer(expired) } }, { method: 'POST', headers: { cookie: 'nexus_token=garbage' } }] as RequestInit[]) {
      const response = (await middleware()(new Request(`${origin}/api/leads`, init)))!;
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toBe('application/json');
      const missing = !('headers' in init);
      if (missing) expect(response.headers.get('www-authenticate')).toBe('Bearer realm="nexus"');
      else expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="nexus", error="invalid_token", error_description="/);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = await response.json();
      expect(body.error).toBe('invalid_token');
      expect(body.error_description).toBeTruthy();
    }
  });

  it('leaves public paths alone (no verification at all)', async () => {
    const mw = middleware();
    for (const path of ['/login', '/login?returnTo=%2F', '/auth/callback?code=x', '/_next/static/chunk.js', '/favicon.ico']) {
      expect(await mw(new Request(`${origin}${path}`))).toBeUndefined();
    }
    const custom = nexusNext(verifier, { publicPaths: ['/', '/docs'] });
    expect(await custom(new Request(`${origin}/docs/intro`))).toBeUndefined();
    const strict = nexusNext(verifier, { publicPaths: [], loginUrl: '/signin' });
    expect((await strict(new Request(`${origin}/login`)))!.headers.get('location')).toBe(`${origin}/signin?returnTo=%2Flogin`);
  });

  it('/login-history is not public', async () => {
    const mw = middleware();
    for (const path of ['/login-history', '/logins/export', '/loginAudit']) {
      const response = await mw(new Request(`${origin}${path}`));
      expect(response?.status, path).toBe(302);
    }
  });
});
