// Two hub instances on one PostgreSQL and one Redis, as behind a load balancer: whatever one
// instance issues or records, the other honours. Nothing that matters lives in one process.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { startSecondInstance, startTestHub, type SecondInstance, type TestHub } from './support/hub.js';
import { authorize, Browser, parseForm, pkcePair } from './support/browser.js';
import { basicAuth } from './support/oauth.js';
import { publishChange } from '../src/db/changes.js';

const CALLBACK = 'http://localhost:3001/auth/callback';
const PASSWORD = 'correct horse battery';
let a: TestHub;
let b: SecondInstance;

beforeAll(async () => {
  a = await startTestHub({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' });
  // Instance B: same database, master key, Redis prefix and public issuer.
  b = await startSecondInstance(a);
  await a.hub.users.create({ email: 'ada@example.com', password: PASSWORD });
});
afterAll(async () => {
  await b?.stop();
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
