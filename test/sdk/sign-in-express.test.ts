// signInExpress + nexusExpress in a real Express 5 app registered at a real hub: sign in through
// the hub's pages, call a protected API with the session, sign out (POST only).
import type http from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import express from 'express';
import { nexusErrors, nexusExpress, requireScope, SESSION_COOKIE, SignIn, signInExpress, TOKEN_COOKIE, type Principal } from '@nexus/auth';
import { startTestHub, type TestHub } from '../support/hub.js';
import { closeServer } from '../support/process.js';
import { parseForm } from '../support/browser.js';
import { CookieJar, freePort } from './helpers.js';

const EMAIL = 'dorothy@example.com';
const PASSWORD = 'numerical analysis 1961';
let t: TestHub;
let server: http.Server;
let app: string;

beforeAll(async () => {
  t = await startTestHub();
  await t.hub.users.create({ email: EMAIL, password: PASSWORD, fullName: 'Dorothy Vaughan' });
  const port = await freePort();
  app = `http://localhost:${port}`;
  const { secret } = await t.hub.clients.add({
    id: 'express-app', name: 'Express app', redirectUris: [`${app}/auth/callback`], postLogoutRedirectUris: [`${app}/`],
    grantTypes: ['authorization_code', 'refresh_token'], firstParty: true, audience: 'urn:nexus:express-app', scopes: ['things:read'],
  });
  const signIn = new SignIn({
    issuer: t.url, clientId: 'express-app', clientSecret: secret!, redirectUri: `${app}/auth/callback`, postLogoutRedirectUri: `${app}/`,
    scope: 'openid email profile offline_access things:read', cookieSecret: 'express-app-cookie-secret-0123456789', allowHttpIssuer: true,
  });
  const web = express();
  web.use(signInExpress(signIn));
  web.get('/', (req, res) => { res.json({ user: (req as { user?: unknown }).user ?? null }); });
  web.use('/api', nexusExpress({ issuer: t.url, audience: 'urn:nexus:express-app' }));
  web.get('/api/things', (req, res) => {
    const principal = (req as unknown as { nexus: Principal }).nexus;
    requireScope(principal, 'things:read');
    res.json({ sub: principal.sub, email: principal.email });
  });
  web.use(nexusErrors());
  server = web.listen(port, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
});

afterAll(async () => {
  await closeServer(server);
  await t?.stop();
});

it('signs in through the hub, serves the API with the session, and signs out with POST only', async () => {
  const jar = new CookieJar();
  const isCallback = (url: URL) => url.origin === app && url.pathname === '/auth/callback';
  const start = await jar.get(`${app}/login?returnTo=${encodeURIComponent('/?from=login')}`);
  expect(start.status).toBe(302);
  expect(new URL(start.headers.get('location')!).origin).toBe(t.url);

  let page = await jar.follow(start, `${app}/login`, isCallback);
  const login = parseForm(page.body, '/login');
  page = await jar.follow(await jar.post(new URL(login.action, page.url), { ...login.fields, email: EMAIL, password: PASSWORD }), new URL(login.action, page.url).href, isCallback);
  expect(isCallback(page.url)).toBe(true);
  const callback = await jar.get(page.url);
  expect(callback.status).toBe(302);
  expect(callback.headers.get('location')).toBe('/?from=login');
  expect(jar.cookie(app, SESSION_COOKIE)).toBeTruthy();
  expect(jar.cookie(app, TOKEN_COOKIE)).toBeTruthy();

  expect(await (await jar.get(`${app}/`)).json()).toMatchObject({ user: { email: EMAIL, name: 'Dorothy Vaughan' } });
  const things = await jar.get(`${app}/api/things`);
  expect(things.status).toBe(200);
  expect(await things.json()).toMatchObject({ email: EMAIL });
  const stranger = await fetch(`${app}/api/things`);
  expect(stranger.status).toBe(401);
  expect(stranger.headers.get('www-authenticate')).toBe('Bearer realm="nexus"');

  await jar.get(`${app}/logout`); // a GET is not a logout
  expect(jar.cookie(app, SESSION_COOKIE)).toBeTruthy();
  const logout = await jar.post(`${app}/logout`, {});
  expect(logout.status).toBe(302);
  expect(new URL(logout.headers.get('location')!).pathname).toBe('/session/end');
  expect(jar.cookie(app, SESSION_COOKIE)).toBeUndefined();
  expect((await jar.get(`${app}/api/things`)).status).toBe(401);
});
