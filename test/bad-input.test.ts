// Bad input gets the right OAuth error or a friendly page: never a 500, never a stack trace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './support/hub.js';
import { authorize, Browser, parseForm, pkcePair } from './support/browser.js';
import { postForm } from './support/oauth.js';

let t: TestHub;
const CALLBACK = 'http://localhost:3001/auth/callback';
const PASSWORD = 'correct horse battery';

beforeAll(async () => {
  t = await startTestHub({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_IP: '12', SIGNUPS_PER_IP_PER_HOUR: '2' });
  await t.hub.users.create({ email: 'ada@example.com', password: PASSWORD });
  await t.hub.users.create({ email: 'bob@example.com', password: PASSWORD });
  await t.hub.users.create({ email: 'carol@example.com', password: PASSWORD });
});
afterAll(() => t?.stop());

function authUrl(params: Record<string, string>) {
  const { challenge } = pkcePair();
  return `/auth?${new URLSearchParams({
    client_id: 'sales', redirect_uri: CALLBACK, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', ...params,
  })}`;
}

function expectNoLeak(body: string) {
  expect(body).not.toMatch(/\bat .+\.(ts|js):\d+/);
  expect(body).not.toContain('node_modules');
}

async function loginPage(browser: Browser) {
  const page = await browser.follow(await browser.get(authUrl({})));
  return parseForm(page.body, '/login');
}

describe('authorization requests', () => {
  it('shows a friendly page for an unknown client', async () => {
    const browser = new Browser(t.url);
    const page = await browser.follow(await browser.get(authUrl({ client_id: 'no-such-project' })));
    expect(page.response.status).toBe(400);
    expect(page.body).toContain('Unknown application');
    expectNoLeak(page.body);
  });

  it.each([
    ['an unregistered host', 'https://evil.example/auth/callback'],
    ['a trailing slash', 'http://localhost:3001/auth/callback/'],
    ['an added query', 'http://localhost:3001/auth/callback?next=/'],
    ['a look-alike host', 'http://localhost:3001.evil.example/auth/callback'],
    ['another port', 'http://localhost:3002/auth/callback'],
    ['https instead of http', 'https://localhost:3001/auth/callback'],
    ['a path prefix', 'http://localhost:3001/auth/callback/../callback'],
  ])('refuses a redirect URI with %s and never redirects to it', async (_label, redirectUri) => {
    const browser = new Browser(t.url);
    const response = await browser.get(authUrl({ redirect_uri: redirectUri }));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    const body = await response.text();
    expect(body).toContain('Unregistered return address');
    expectNoLeak(body);
  });

  it('sends a public client without PKCE back with invalid_request', async () => {
    const browser = new Browser(t.url);
    const response = await browser.get(`/auth?${new URLSearchParams({
      client_id: 'testing', redirect_uri: 'http://localhost:3010/auth/callback', response_type: 'code', scope: 'openid', state: 's1',
    })}`);
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('http://localhost:3010/auth/callback');
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('refuses the plain PKCE method', async () => {
    const browser = new Browser(t.url);
    const response = await browser.get(authUrl({ code_challenge_method: 'plain' }));
    const location = new URL(response.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });

  it('refuses the implicit flow', async () => {
    const browser = new Browser(t.url);
    const response = await browser.get(authUrl({ response_type: 'id_token token' }));
    // Errors for implicit response types travel in the fragment (OAuth 2.0 Multiple Response Types).
    const location = new URL(response.headers.get('location')!);
    expect(new URLSearchParams(location.hash.slice(1)).get('error')).toBe('unsupported_response_type');
  });
});

describe('codes', () => {
  async function code() {
    return authorize(new Browser(t.url), { clientId: 'sales', redirectUri: CALLBACK, email: 'ada@example.com', password: PASSWORD, scope: 'openid' });
  }

  it('refuses a replayed code', async () => {
    const result = await code();
    const form = { grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: CALLBACK };
    expect((await postForm(t, '/token', 'sales', form)).status).toBe(200);
    const replay = await postForm(t, '/token', 'sales', form);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
  });

  it('refuses an expired code', async () => {
    const result = await code();
    await t.hub.db.pool.query(`UPDATE oidc_payloads SET expires_at = now() - interval '1 second' WHERE model = 'AuthorizationCode'`);
    const response = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: CALLBACK });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_grant');
  });

  it('refuses a wrong PKCE verifier and a different redirect URI', async () => {
    const result = await code();
    const wrongVerifier = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: result.code!, code_verifier: pkcePair().verifier, redirect_uri: CALLBACK });
    expect(wrongVerifier.body.error).toBe('invalid_grant');
    const other = await code();
    const wrongRedirect = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: other.code!, code_verifier: other.verifier, redirect_uri: 'http://localhost:3001/other' });
    expect(wrongRedirect.body.error).toBe('invalid_grant');
  });
});

describe('malformed requests', () => {
  it('answers malformed JSON at the token endpoint with invalid_request', async () => {
    const response = await fetch(`${t.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":' });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.error).toBe('invalid_request');
  });

  it('answers an unknown grant type and missing parameters with OAuth errors', async () => {
    const unknown = await postForm(t, '/token', 'sales', { grant_type: 'password', username: 'a', password: 'b' });
    expect(unknown.body.error).toBe('unsupported_grant_type');
    const missing = await postForm(t, '/token', 'sales', {});
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');
  });

  it('refuses an oversized body without crashing', async () => {
    const huge = `grant_type=client_credentials&pad=${'x'.repeat(2 * 1024 * 1024)}`;
    const response = await fetch(`${t.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: huge }).catch(() => undefined);
    // Either a 4xx answer or a closed connection; never a 500. The hub stays up.
    if (response) expect(response.status).toBeGreaterThanOrEqual(400), expect(response.status).toBeLessThan(500);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it('refuses an oversized login form with a friendly 413 page', async () => {
    const browser = new Browser(t.url);
    const { action, fields } = await loginPage(browser);
    const response = await browser.post(action, { ...fields, email: 'ada@example.com', password: 'x'.repeat(64 * 1024) });
    expect(response.status).toBe(413);
    const body = await response.text();
    expect(body).toContain('too large');
    expectNoLeak(body);
  });

  it('treats malformed form encoding and repeated fields as bad input', async () => {
    const browser = new Browser(t.url);
    const { action, fields } = await loginPage(browser);
    const response = await browser.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${encodeURIComponent(fields.csrf)}&email=a&email=b&password=%E0%A4%A`,
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expectNoLeak(await response.text());
  });

  it('shows a friendly page for an interaction that does not exist', async () => {
    const browser = new Browser(t.url);
    const response = await browser.get('/interaction/does-not-exist');
    expect(response.status).toBe(400);
    const body = await response.text();
    expect(body).toContain('expired');
    expectNoLeak(body);
  });

  it('answers unknown paths with 404, not a stack trace', async () => {
    const response = await fetch(`${t.url}/no/such/path`);
    expect(response.status).toBe(404);
    expectNoLeak(await response.text());
  });
});

describe('login security', () => {
  it('says the same thing for a wrong password and an unknown email', async () => {
    const browser = new Browser(t.url);
    const wrong = await loginPage(browser);
    const a = await browser.post(wrong.action, { ...wrong.fields, email: 'bob@example.com', password: 'not the password' });
    const browser2 = new Browser(t.url);
    const unknown = await loginPage(browser2);
    const b = await browser2.post(unknown.action, { ...unknown.fields, email: 'nobody@example.com', password: 'not the password' });
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    const messageA = (await a.text()).match(/role="alert"[^>]*>([\s\S]*?)<\/div>/)?.[1]?.trim();
    const messageB = (await b.text()).match(/role="alert"[^>]*>([\s\S]*?)<\/div>/)?.[1]?.trim();
    expect(messageA).toContain('Incorrect email or password');
    expect(messageA).toBe(messageB);
  });

  it('refuses a form without a valid CSRF token', async () => {
    const browser = new Browser(t.url);
    const { action } = await loginPage(browser);
    const missing = await browser.post(action, { email: 'ada@example.com', password: PASSWORD });
    expect(missing.status).toBe(403);
    const forged = await browser.post(action, { csrf: 'forged', email: 'ada@example.com', password: PASSWORD });
    expect(forged.status).toBe(403);
    // A token minted for another interaction does not work here either.
    const other = await loginPage(new Browser(t.url));
    const stolen = await browser.post(action, { csrf: other.fields.csrf, email: 'ada@example.com', password: PASSWORD });
    expect(stolen.status).toBe(403);
  });

  it('locks an account after repeated failures, even for the right password', async () => {
    const browser = new Browser(t.url);
    const { action, fields } = await loginPage(browser);
    for (let i = 0; i < 3; i++) {
      const response = await browser.post(action, { ...fields, email: 'carol@example.com', password: `wrong password ${i}` });
      expect(response.status).toBe(401);
    }
    const locked = await browser.post(action, { ...fields, email: 'carol@example.com', password: PASSWORD });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await locked.text()).toContain('Too many failed attempts');
  });

  it('limits failures per IP across accounts', async () => {
    const browser = new Browser(t.url);
    const { action, fields } = await loginPage(browser);
    let status = 0;
    for (let i = 0; i < 14 && status !== 429; i++) {
      status = (await browser.post(action, { ...fields, email: `spray${i}@example.com`, password: 'guess guess guess' })).status;
    }
    expect(status).toBe(429);
  });
});

describe('sign-up limits', () => {
  it('limit account creation attempts per IP', async () => {
    const signUp = async (n: number) => {
      const browser = new Browser(t.url);
      const login = await loginPage(browser);
      const page = await browser.follow(await browser.get(login.action.replace('/login', '/signup')));
      const { action, fields } = parseForm(page.body, '/signup');
      return browser.post(action, { ...fields, name: `Person ${n}`, email: `person${n}@example.com`, password: 'a long enough password' });
    };
    expect((await signUp(1)).status).toBe(303);
    expect((await signUp(2)).status).toBe(303);
    const third = await signUp(3);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await third.text()).toContain('Too many accounts');
    expect(await t.hub.users.findByEmail('person3@example.com')).toBeNull();
  });
});

describe('login limits without Redis', () => {
  it('keep working (per process) when Redis is unreachable', async () => {
    const offline = await startTestHub({ REDIS_URL: 'redis://127.0.0.1:1', LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' });
    try {
      await offline.hub.users.create({ email: 'eve@example.com', password: PASSWORD });
      const browser = new Browser(offline.url);
      const page = await browser.follow(await browser.get(authUrl({})));
      const { action, fields } = parseForm(page.body, '/login');
      for (let i = 0; i < 2; i++) expect((await browser.post(action, { ...fields, email: 'eve@example.com', password: `nope ${i} nope` })).status).toBe(401);
      expect((await browser.post(action, { ...fields, email: 'eve@example.com', password: PASSWORD })).status).toBe(429);
    } finally {
      await offline.stop();
    }
  });
});
