// Two hub instances on one PostgreSQL and one Redis, as behind a load balancer: whatever one
// instance issues or records, the other honours. Nothing that matters lives in one process.
import http from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { startTestHub, type TestHub } from './support/hub.js';
import { authorize, Browser, parseForm, pkcePair } from './support/browser.js';
import { basicAuth } from './support/oauth.js';
import { closeServer, freePort } from './support/process.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createHub, type Hub } from '../src/app.js';
import { publishChange } from '../src/db/changes.js';

const CALLBACK = 'http://localhost:3001/auth/callback';
const PASSWORD = 'correct horse battery';
let a: TestHub;
let b: { hub: Hub; server: http.Server; url: string };

beforeAll(async () => {
  a = await startTestHub({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' });
  // Instance B: same database, master key (same DATA_DIR), Redis prefix and public issuer.
  const port = await freePort();
  const hub = await createHub(loadConfig({ ...a.env, PORT: String(port) }), createLogger('silent'));
  // A load balancer passes the public Host on to whichever instance it picks; the hub answers
  // only for its issuer's host.
  const callback = hub.app.callback();
  const server = http.createServer((req, res) => {
    req.headers.host = new URL(a.url).host;
    return callback(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  b = { hub, server, url: `http://127.0.0.1:${port}` };
  await a.hub.users.create({ email: 'ada@example.com', password: PASSWORD });
});
afterAll(async () => {
  if (b) {
    await closeServer(b.server);
    await b.hub.close();
  }
  await a?.stop();
});

async function token(base: string, form: Record<string, string>) {
  const response = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('sales', a.secrets.sales) },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

it('redeems at one instance the code, session and refresh tokens issued by the other', async () => {
  const browser = new Browser(a.url);
  const result = await authorize(browser, { clientId: 'sales', redirectUri: CALLBACK, email: 'ada@example.com', password: PASSWORD });
  const issued = await token(b.url, { grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: CALLBACK });
  expect(issued.status).toBe(200);
  await jwtVerify(issued.body.access_token, createLocalJWKSet(await (await fetch(`${a.url}/jwks`)).json()), { issuer: a.url });

  // The hub session made at A signs the browser in at B without a login page.
  const { challenge } = pkcePair();
  const atB = await fetch(`${b.url}/auth?${new URLSearchParams({
    client_id: 'sales', redirect_uri: CALLBACK, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256',
  })}`, { headers: { cookie: browser.cookieHeader() }, redirect: 'manual' });
  const next = new URL(atB.headers.get('location')!, b.url);
  expect(next.pathname.startsWith('/auth/') || next.searchParams.has('code')).toBe(true);
  expect(next.pathname.startsWith('/interaction/')).toBe(false);

  // Rotation at A, reuse detected at B: the whole grant dies everywhere.
  const rotated = await token(a.url, { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token });
  expect(rotated.status).toBe(200);
  expect((await token(b.url, { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token })).body.error).toBe('invalid_grant');
  expect((await token(a.url, { grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token })).body.error).toBe('invalid_grant');
});

it('rotates signing keys on every instance at once', async () => {
  const jwks = async (base: string): Promise<JSONWebKeySet> => (await fetch(`${base}/jwks`)).json();
  const key = await a.hub.keys.rotate();
  await publishChange(a.hub.db.prisma, 'keys');
  for (const base of [a.url, b.url]) {
    await expect.poll(async () => (await jwks(base)).keys[0]?.kid, { timeout: 10_000 }).toBe(key.kid);
  }
  const fromB = await token(b.url, { grant_type: 'client_credentials' });
  expect(decodeProtectedHeader(fromB.body.access_token).kid).toBe(key.kid);
});

it('counts failed logins across instances', async () => {
  const loginAt = async (base: string) => {
    const browser = new Browser(base);
    const page = await browser.follow(await browser.get(`/auth?${new URLSearchParams({
      client_id: 'sales', redirect_uri: CALLBACK, response_type: 'code', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256',
    })}`));
    const { action, fields } = parseForm(page.body, '/login');
    return (password: string) => browser.post(action, { ...fields, email: 'ada@example.com', password });
  };
  const [atA, atB] = await Promise.all([loginAt(a.url), loginAt(b.url)]);
  expect((await atA('wrong one')).status).toBe(401);
  expect((await atB('wrong two')).status).toBe(401);
  expect((await atA('wrong three')).status).toBe(401);
  expect((await atB(PASSWORD)).status).toBe(429);
});
