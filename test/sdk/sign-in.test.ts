// SignIn + signInKoa + nexusKoa in a real Koa app on its own port, registered at a real hub as
// client sdk-app: the whole authorization-code flow across two origins (app and hub) with a
// cookie jar per origin, the session cookies, silent refresh, returnTo protection and logout.
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import Koa from 'koa';
import Router from '@koa/router';
import { decodeJwt } from 'jose';
import {
  createVerifier, nexusKoa, requireScope, SESSION_COOKIE, SignIn, signInKoa, TOKEN_COOKIE, type Principal, type SessionUser,
} from '@nexus/auth';
import { startTestHub, type TestHub } from '../support/hub.js';
import { closeServer } from '../support/process.js';
import { parseForm } from '../support/browser.js';
import { CookieJar, expectAuthError, freePort } from './helpers.js';

const EMAIL = 'katherine@example.com';
const PASSWORD = 'orbital mechanics 1962';
const COOKIE_SECRET = 'sdk-app-cookie-secret-0123456789abcdef';

let t: TestHub;
let server: http.Server;
let app: string; // the project's origin
let userId: string;
let signIn: SignIn;

beforeAll(async () => {
  // Access tokens live 60 s: the session refreshes when fewer than 30 s are left.
  t = await startTestHub({ ACCESS_TOKEN_TTL: '60' });
  userId = (await t.hub.users.create({ email: EMAIL, password: PASSWORD, fullName: 'Katherine Johnson' })).id;
  const port = await freePort();
  app = `http://localhost:${port}`;
  const { secret } = await t.hub.clients.add({
    id: 'sdk-app', name: 'SDK app', redirectUris: [`${app}/auth/callback`], postLogoutRedirectUris: [`${app}/`],
    grantTypes: ['authorization_code', 'refresh_token'], firstParty: true, audience: 'urn:nexus:sdk-app', scopes: ['things:read'],
  });

  signIn = new SignIn({
    issuer: t.url, clientId: 'sdk-app', clientSecret: secret!, redirectUri: `${app}/auth/callback`, postLogoutRedirectUri: `${app}/`,
    scope: 'openid email profile offline_access things:read', cookieSecret: COOKIE_SECRET, allowHttpIssuer: true,
  });
  const protect = nexusKoa({ issuer: t.url, audience: 'urn:nexus:sdk-app' });
  const router = new Router();
  router.get('/', (ctx) => { ctx.body = { user: (ctx.state.user as SessionUser | undefined) ?? null }; });
  router.get('/dashboard', protect, (ctx) => { ctx.body = { page: 'dashboard', sub: (ctx.state.nexus as Principal).sub, query: ctx.query }; });
  router.get('/api/things', protect, (ctx) => {
    const principal = ctx.state.nexus as Principal;
    requireScope(principal, 'things:read');
    ctx.body = { sub: principal.sub, email: principal.email, scopes: principal.scopes, iat: principal.claims.iat, user: ctx.state.user };
  });
  router.get('/api/write', protect, (ctx) => { requireScope(ctx.state.nexus as Principal, 'things:write'); });
  const koa = new Koa();
  koa.use(signInKoa(signIn));
  koa.use(router.routes());
  server = koa.listen(port, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
});

afterAll(async () => {
  await closeServer(server);
  await t?.stop();
});

const isCallback = (url: URL) => url.origin === app && url.pathname === '/auth/callback';

/**
 * A person signs in: the app's /login → the hub (login page, consent if asked) → the app's
 * callback → wherever the app sends them. Returns the callback's answer and the final page.
 */
async function signInThroughHub(jar: CookieJar, returnTo?: string) {
  const start = await jar.get(`${app}/login${returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`}`);
  expect(start.status).toBe(302);
  const authorizeUrl = new URL(start.headers.get('location')!);
  expect(authorizeUrl.origin).toBe(t.url);
  expect(jar.cookie(app, 'nexus_signin')).toBeTruthy();

  let page = await jar.follow(start, `${app}/login`, isCallback);
  for (let step = 0; step < 3 && !isCallback(page.url); step++) {
    if (page.body.includes('/login"')) {
      const { action, fields } = parseForm(page.body, '/login');
      page = await jar.follow(await jar.post(new URL(action, page.url), { ...fields, email: EMAIL, password: PASSWORD }), new URL(action, page.url).href, isCallback);
    } else if (page.body.includes('/consent"')) {
      const { action, fields } = parseForm(page.body, '/consent');
      page = await jar.follow(await jar.post(new URL(action, page.url), fields), new URL(action, page.url).href, isCallback);
    } else {
      throw new Error(`unexpected page ${page.url} (${page.response.status}): ${page.body.slice(0, 500)}`);
    }
  }
  expect(isCallback(page.url)).toBe(true);
  expect(page.url.searchParams.get('code')).toBeTruthy();
  const callback = await jar.get(page.url);
  return { authorizeUrl, callbackUrl: page.url, callback, location: callback.headers.get('location') };
}

describe('sign-in through the hub', () => {
  it('runs code + PKCE, opens an encrypted session, and the API accepts the session token', async () => {
    const jar = new CookieJar();
    const { authorizeUrl, callback, location } = await signInThroughHub(jar, '/dashboard?tab=1');
    expect(Object.fromEntries(authorizeUrl.searchParams)).toMatchObject({
      client_id: 'sdk-app', response_type: 'code', code_challenge_method: 'S256', redirect_uri: `${app}/auth/callback`,
      scope: 'openid email profile offline_access things:read', prompt: 'consent',
    });
    expect(authorizeUrl.searchParams.get('state')).toBeTruthy();
    expect(authorizeUrl.searchParams.get('nonce')).toBeTruthy();

    expect(callback.status).toBe(302);
    expect(location).toBe('/dashboard?tab=1');
    const cookies = callback.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`))!;
    expect(session).toMatch(/httponly/i);
    expect(session).toMatch(/samesite=lax/i);
    expect(session).not.toMatch(/;\s*secure/i); // http app: no Secure flag
    expect(jar.cookie(app, 'nexus_signin')).toBeUndefined(); // the transaction cookie is gone
    const sealed = jar.cookie(app, SESSION_COOKIE)!;
    expect(sealed.split('.')).toHaveLength(5); // a JWE: the tokens are not readable in the cookie
    expect(sealed).not.toContain(jar.cookie(app, TOKEN_COOKIE)!.split('.')[1]);

    const accessToken = jar.cookie(app, TOKEN_COOKIE)!;
    expect(decodeJwt(accessToken)).toMatchObject({ sub: userId, aud: 'urn:nexus:sdk-app', client_id: 'sdk-app', email: EMAIL });

    const dashboard = await jar.get(`${app}/dashboard?tab=1`);
    expect(dashboard.status).toBe(200);
    expect(await dashboard.json()).toMatchObject({ page: 'dashboard', sub: userId, query: { tab: '1' } });
    const things = await jar.get(`${app}/api/things`);
    expect(things.status).toBe(200);
    expect(await things.json()).toMatchObject({ sub: userId, email: EMAIL, scopes: ['things:read'], user: { sub: userId, email: EMAIL, name: 'Katherine Johnson' } });
    const home = await jar.get(`${app}/`);
    expect(await home.json()).toEqual({ user: { sub: userId, email: EMAIL, name: 'Katherine Johnson' } });

    const forbidden = await jar.get(`${app}/api/write`);
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).error).toBe('insufficient_scope');
  });

  it('never redirects off the app after sign-in (returnTo open-redirect protection)', async () => {
    const jar = new CookieJar();
    const cases: Array<[string | undefined, string]> = [
      ['//evil.example', '/'],
      ['//evil.example/path', '/'],
      ['/\\evil.example', '/'],
      ['https://evil.example/x', '/'],
      ['javascript:alert(1)', '/'],
      ['evil.example', '/'],
      [undefined, '/'],
      ['/reports?month=5#top', '/reports?month=5#top'],
    ];
    for (const [returnTo, expected] of cases) {
      const { location } = await signInThroughHub(jar, returnTo);
      expect(location, `returnTo=${returnTo}`).toBe(expected);
    }
  });

  /** Drives SignIn directly (no adapter): begin → the hub → complete. */
  async function signInDirectly(returnTo: string) {
    const jar = new CookieJar();
    const { url, cookies } = await signIn.begin(returnTo);
    const transaction = cookies.find((c) => c.name === 'nexus_signin')!;
    let page = await jar.follow(await jar.get(url), url, isCallback);
    for (let step = 0; step < 3 && !isCallback(page.url); step++) {
      const { action, fields } = parseForm(page.body, page.body.includes('/login"') ? '/login' : '/consent');
      const target = new URL(action, page.url);
      page = await jar.follow(await jar.post(target, { ...fields, email: EMAIL, password: PASSWORD }), target.href, isCallback);
    }
    return signIn.complete(page.url, `nexus_signin=${transaction.value}`);
  }

  it('SignIn.complete (framework-neutral) returns only same-site paths for the usual attacks', async () => {
    for (const returnTo of ['//evil.example', '/\\evil.example', 'https://evil.example', '/%2F/evil.example']) {
      const { returnTo: back } = await signInDirectly(returnTo);
      expect(new URL(back, app).origin, JSON.stringify(returnTo)).toBe(app);
    }
  });

  it('a tab or newline after the slash does not make an open redirect', async () => {
    for (const returnTo of ['/\t/evil.example', '/\n/evil.example', '/\r/evil.example']) {
      const { returnTo: back } = await signInDirectly(returnTo);
      expect(new URL(back, app).origin, JSON.stringify(returnTo)).toBe(app);
    }
  });

  it('refuses a callback without the sign-in cookie, and reports access_denied', async () => {
    const stranger = new CookieJar();
    const noTransaction = await stranger.get(`${app}/auth/callback?code=abc&state=xyz`);
    expect(noTransaction.status).toBe(400);
    expect(await noTransaction.text()).toMatch(/^Sign-in failed: the sign-in expired or was started in another browser/);

    const jar = new CookieJar();
    const start = await jar.get(`${app}/login`);
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const denied = await jar.get(`${app}/auth/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(t.url)}`);
    expect(denied.status).toBe(403);
    expect(await denied.text()).toBe('Sign-in failed: access was denied.');
  });

  it('treats a tampered or foreign session cookie as signed out', async () => {
    const jar = new CookieJar();
    await signInThroughHub(jar);
    const sealed = jar.cookie(app, SESSION_COOKIE)!;
    jar.set(app, SESSION_COOKIE, `${sealed.slice(0, -4)}AAAA`);
    const home = await jar.get(`${app}/`);
    expect(home.status).toBe(200);
    expect(await home.json()).toEqual({ user: null });

    const other = new SignIn({ issuer: t.url, clientId: 'sdk-app', redirectUri: `${app}/auth/callback`, cookieSecret: 'another-secret-another-secret-another' });
    expect(await other.current(`${SESSION_COOKIE}=${sealed}`)).toEqual({ cookies: [] });
    expect(() => new SignIn({ issuer: t.url, clientId: 'x', redirectUri: `${app}/cb`, cookieSecret: 'short' })).toThrow(/32 characters/);
  });
});

describe('silent refresh', () => {
  it('refreshes an access token about to expire and returns the new cookies', async () => {
    const jar = new CookieJar();
    await signInThroughHub(jar);
    const first = jar.cookie(app, TOKEN_COOKIE)!;
    const firstIat = decodeJwt(first).iat!;
    expect(decodeJwt(first).exp! - firstIat).toBe(60);

    // Fresh: no refresh, no cookies.
    const fresh = await jar.get(`${app}/api/things`);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.getSetCookie()).toEqual([]);

    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() + 120_000); // two minutes later: the access token has expired
      const verifier = createVerifier({ issuer: t.url, audience: 'urn:nexus:sdk-app' });
      await expectAuthError(verifier.verify(first), 'invalid_token', 401, /expired/);

      // The browser still sends the old token cookie; the session refreshes before nexusKoa runs.
      const refreshed = await jar.get(`${app}/api/things`);
      expect(refreshed.status).toBe(200);
      const body = await refreshed.json();
      expect(body).toMatchObject({ sub: userId, email: EMAIL, scopes: ['things:read'] });
      expect(body.iat).toBeGreaterThanOrEqual(firstIat + 120);
      const names = refreshed.headers.getSetCookie().map((c) => c.split('=')[0]);
      expect(names).toEqual(expect.arrayContaining([SESSION_COOKIE, TOKEN_COOKIE]));
      const second = jar.cookie(app, TOKEN_COOKIE)!;
      expect(second).not.toBe(first);
      await expect(verifier.verify(second)).resolves.toMatchObject({ sub: userId });

      // The new session is fresh again: no more refreshes.
      const again = await jar.get(`${app}/api/things`);
      expect(again.status).toBe(200);
      expect(again.headers.getSetCookie()).toEqual([]);

      // SignIn.current directly: same answer for a session cookie whose token has expired.
      vi.setSystemTime(Date.now() + 120_000);
      const direct = await signIn.current(jar.header(app));
      expect(direct.user).toMatchObject({ sub: userId });
      expect(direct.accessToken).toBeTruthy();
      expect(direct.accessToken).not.toBe(second);
      expect(direct.cookies.map((c) => c.name)).toEqual([SESSION_COOKIE, TOKEN_COOKIE]);
      expect(direct.cookies.find((c) => c.name === TOKEN_COOKIE)).toMatchObject({ value: direct.accessToken, maxAge: 60, httpOnly: true, sameSite: 'lax', path: '/' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('ends the session when the refresh token no longer works', async () => {
    const jar = new CookieJar();
    await signInThroughHub(jar);
    // Using the session once elsewhere rotates the refresh token; the cookie's copy is now a
    // reused (revoked) refresh token.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() + 120_000);
      const stale = jar.header(app);
      expect((await signIn.current(stale)).accessToken).toBeTruthy(); // rotates
      const result = await signIn.current(stale); // replays the rotated refresh token
      expect(result.user).toBeUndefined();
      expect(result.cookies.map((c) => [c.name, c.maxAge])).toEqual([[SESSION_COOKIE, 0], [TOKEN_COOKIE, 0]]);
      const page = await jar.get(`${app}/`);
      expect(await page.json()).toEqual({ user: null });
      expect(jar.cookie(app, SESSION_COOKIE)).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps the session through a hub outage during silent refresh, and retries later', async () => {
    const jar = new CookieJar();
    await signInThroughHub(jar);
    const realFetch = globalThis.fetch;
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.startsWith(`${t.url}/token`)) throw new TypeError('fetch failed');
      return realFetch(input, init);
    });
    try {
      vi.setSystemTime(Date.now() + 120_000);
      const result = await signIn.current(jar.header(app));
      expect(result.cookies.filter((c) => c.maxAge === 0)).toEqual([]);
    } finally {
      spy.mockRestore();
      vi.useRealTimers();
    }
  });
});

describe('logout', () => {
  it("POST /logout clears the session and sends the browser to the hub's end_session with id_token_hint", async () => {
    const jar = new CookieJar();
    await signInThroughHub(jar);
    expect(jar.cookie(app, SESSION_COOKIE)).toBeTruthy();

    // GET is not a logout (a link or image on another site must not sign the user out).
    await jar.get(`${app}/logout`);
    expect(jar.cookie(app, SESSION_COOKIE)).toBeTruthy();

    const response = await jar.post(`${app}/logout`, {});
    expect(response.status).toBe(302);
    const endSession = new URL(response.headers.get('location')!);
    expect(`${endSession.origin}${endSession.pathname}`).toBe(`${t.url}/session/end`);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${app}/`);
    const hint = endSession.searchParams.get('id_token_hint')!;
    expect(decodeJwt(hint)).toMatchObject({ iss: t.url, aud: 'sdk-app', sub: userId });
    expect(jar.cookie(app, SESSION_COOKIE)).toBeUndefined();
    expect(jar.cookie(app, TOKEN_COOKIE)).toBeUndefined();
    expect(await (await jar.get(`${app}/`)).json()).toEqual({ user: null });
    expect((await jar.get(`${app}/api/things`)).status).toBe(401);

    // The hub asks to confirm, then returns to the app's post-logout URI.
    const confirm = await jar.follow(await jar.get(endSession), endSession.href);
    expect(confirm.body).toContain('Sign out of Nexus?');
    const { action, fields } = parseForm(confirm.body, '/session/end');
    const done = await jar.follow(await jar.post(new URL(action, confirm.url), { ...fields, logout: 'yes' }), new URL(action, confirm.url).href, (url) => url.origin === app);
    expect(done.url.href).toBe(`${app}/`);

    // Signed out at the hub too: the next sign-in shows the login page again.
    const again = await jar.follow(await jar.get(`${app}/login`), `${app}/login`, isCallback);
    expect(again.body).toContain('/login"');
  });

  it('without a session, logout still points at end_session (no id_token_hint)', async () => {
    const { url, cookies } = await signIn.logout(undefined);
    const endSession = new URL(url);
    expect(endSession.searchParams.has('id_token_hint')).toBe(false);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${app}/`);
    expect(cookies.every((c) => c.maxAge === 0 && c.value === '')).toBe(true);
  });
});
