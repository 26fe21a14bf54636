// Token lifecycle: refresh rotation and reuse detection, client credentials, the device
// authorization grant, revocation, introspection and RP-initiated logout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestHub, type TestHub } from './support/hub.js';
import { authorize, Browser, parseForm } from './support/browser.js';
import { postForm } from './support/oauth.js';

let t: TestHub;
let jwks: ReturnType<typeof createRemoteJWKSet>;
const SALES_CALLBACK = 'http://localhost:3001/auth/callback';
const PASSWORD = 'correct horse battery';

beforeAll(async () => {
  t = await startTestHub();
  jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
  await t.hub.users.create({ email: 'ada@example.com', password: PASSWORD, fullName: 'Ada Lovelace' });
});
afterAll(() => t?.stop());

async function signIn(browser = new Browser(t.url), scope = 'openid email offline_access leads:read') {
  const result = await authorize(browser, { clientId: 'sales', redirectUri: SALES_CALLBACK, email: 'ada@example.com', password: PASSWORD, scope });
  const tokens = await postForm(t, '/token', 'sales', {
    grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: SALES_CALLBACK,
  });
  expect(tokens.status).toBe(200);
  return { browser, tokens: tokens.body };
}

describe('refresh tokens', () => {
  it('rotate on every use and keep issuing verifiable access tokens', async () => {
    const { tokens } = await signIn();
    const first = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(first.status).toBe(200);
    expect(first.body.refresh_token).toBeTruthy();
    expect(first.body.refresh_token).not.toBe(tokens.refresh_token);
    const { payload } = await jwtVerify(first.body.access_token, jwks, { issuer: t.url, audience: 'urn:nexus:sales', typ: 'at+jwt' });
    expect(payload.scope).toBe('leads:read');

    const second = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    expect(second.status).toBe(200);
  });

  it('revoke the whole grant when a rotated refresh token is reused', async () => {
    const { tokens } = await signIn();
    const rotated = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(rotated.status).toBe(200);

    const replay = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');

    // The legitimate, newer refresh token died with the grant.
    const after = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token });
    expect(after.status).toBe(400);
    expect(after.body.error).toBe('invalid_grant');
  });

  it('are refused for another client', async () => {
    const { tokens } = await signIn();
    const stolen = await postForm(t, '/token', 'agi-safety', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_grant');
  });
});

describe('client credentials', () => {
  it('issue an RS256 JWT for the project API to a confidential client', async () => {
    const response = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials', scope: 'leads:read' });
    expect(response.status).toBe(200);
    const { payload, protectedHeader } = await jwtVerify(response.body.access_token, jwks, {
      issuer: t.url, audience: 'urn:nexus:sales', algorithms: ['RS256'], typ: 'at+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ sub: 'sales', client_id: 'sales', scope: 'leads:read' });
  });

  it('refuse a wrong secret and a public client, and leave out scopes the API does not define', async () => {
    const wrong = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('sales:not-the-secret').toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).error).toBe('invalid_client');

    const publicClient = await postForm(t, '/token', 'testing', { grant_type: 'client_credentials' });
    expect(publicClient.status).toBe(400);
    expect(['unauthorized_client', 'invalid_request', 'invalid_client']).toContain(publicClient.body.error);

    // RFC 6749 §3.3: scopes the API does not define are left out of the token.
    const badScope = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials', scope: 'leads:read research:write' });
    expect(badScope.status).toBe(200);
    const { payload } = await jwtVerify(badScope.body.access_token, jwks, { issuer: t.url, audience: 'urn:nexus:sales' });
    expect(payload.scope).toBe('leads:read');
  });

  it('refuse a token for another project API', async () => {
    const response = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials', resource: 'urn:nexus:dream-people' });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_target');
  });
});

describe('device authorization grant', () => {
  it('lets a CLI sign a user in with a code typed on another device', async () => {
    const start = await postForm(t, '/device/auth', 'agi-safety', { scope: 'openid email research:read' });
    expect(start.status).toBe(200);
    const { device_code, user_code, verification_uri, verification_uri_complete } = start.body as Record<string, string>;
    expect(verification_uri).toBe(`${t.url}/device`);
    expect(user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);

    const pending = await postForm(t, '/token', 'agi-safety', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code });
    expect(pending.body.error).toBe('authorization_pending');

    // The user opens the verification page, types the code, signs in, approves.
    const browser = new Browser(t.url);
    let page = await browser.follow(await browser.get(verification_uri));
    expect(page.body).toContain('user_code');
    const input = parseForm(page.body, '/device');
    page = await browser.follow(await browser.post(input.action, { ...input.fields, user_code }));
    expect(page.body).toContain(user_code);
    const confirm = parseForm(page.body, '/device');
    page = await browser.follow(await browser.post(confirm.action, confirm.fields));
    const login = parseForm(page.body, '/login');
    page = await browser.follow(await browser.post(login.action, { ...login.fields, email: 'ada@example.com', password: PASSWORD }));
    const consent = parseForm(page.body, '/consent');
    page = await browser.follow(await browser.post(consent.action, consent.fields));
    expect(page.body).toContain('Device connected');
    expect(verification_uri_complete).toContain(encodeURIComponent(user_code).replace('%2D', '-'));

    const tokens = await postForm(t, '/token', 'agi-safety', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code });
    expect(tokens.status).toBe(200);
    const { payload } = await jwtVerify(tokens.body.access_token, jwks, { issuer: t.url, audience: 'urn:nexus:agi-safety', typ: 'at+jwt' });
    expect(payload).toMatchObject({ client_id: 'agi-safety', scope: 'research:read', email: 'ada@example.com' });
    const id = await jwtVerify(tokens.body.id_token, jwks, { issuer: t.url, audience: 'agi-safety' });
    expect(id.payload.email).toBe('ada@example.com');

    // A device code is good for one exchange only.
    const again = await postForm(t, '/token', 'agi-safety', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code });
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
  });

  it('tells the user when the code is wrong', async () => {
    const browser = new Browser(t.url);
    const page = await browser.follow(await browser.get('/device'));
    const input = parseForm(page.body, '/device');
    const result = await browser.follow(await browser.post(input.action, { ...input.fields, user_code: 'BCDF-GHJK' }));
    expect(result.response.status).toBeLessThan(500);
    expect(result.body).toContain('not valid or has expired');
  });
});

describe('revocation and introspection', () => {
  it('revokes a refresh token so it can no longer be used', async () => {
    const { tokens } = await signIn();
    const revoke = await postForm(t, '/token/revocation', 'sales', { token: tokens.refresh_token, token_type_hint: 'refresh_token' });
    expect(revoke.status).toBe(200);
    const refresh = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('introspects refresh tokens (active, then inactive after revocation)', async () => {
    const { tokens } = await signIn();
    const active = await postForm(t, '/token/introspection', 'sales', { token: tokens.refresh_token });
    expect(active.status).toBe(200);
    const user = await t.hub.users.findByEmail('ada@example.com');
    expect(active.body).toMatchObject({ active: true, client_id: 'sales', sub: user!.id, iss: t.url });
    await postForm(t, '/token/revocation', 'sales', { token: tokens.refresh_token });
    const inactive = await postForm(t, '/token/introspection', 'sales', { token: tokens.refresh_token });
    expect(inactive.body).toEqual({ active: false });
  });

  it('does not reveal another client\'s token', async () => {
    const { tokens } = await signIn();
    const other = await postForm(t, '/token/introspection', 'agi-safety', { token: tokens.refresh_token });
    expect(other.body).toEqual({ active: false });
  });
});

describe('userinfo', () => {
  it('answers the claims of the granted OpenID scopes for the code-flow access token', async () => {
    const { tokens } = await signIn(new Browser(t.url), 'openid email offline_access leads:read');
    const user = await t.hub.users.findByEmail('ada@example.com');
    const get = await fetch(`${t.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(get.status).toBe(200);
    // email was granted, profile was not: no name.
    expect(await get.json()).toEqual({ sub: user!.id, plan: 'free', email: 'ada@example.com', email_verified: false });
    const post = await fetch(`${t.url}/me`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `access_token=${tokens.access_token}` });
    expect(post.status).toBe(200);
  });

  it('refuses a missing, forged or revoked token', async () => {
    const missing = await fetch(`${t.url}/me`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const forged = await fetch(`${t.url}/me`, { headers: { authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' } });
    expect(forged.status).toBe(401);
    expect((await forged.json()).error).toBe('invalid_token');
    const machine = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials' });
    expect((await fetch(`${t.url}/me`, { headers: { authorization: `Bearer ${machine.body.access_token}` } })).status).toBe(401);

    const { tokens } = await signIn();
    await postForm(t, '/token/revocation', 'sales', { token: tokens.refresh_token });
    const revoked = await fetch(`${t.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(revoked.status).toBe(401);
  });
});

describe('RP-initiated logout', () => {
  it('asks for confirmation, ends the hub session and returns to the project', async () => {
    const { browser, tokens } = await signIn();
    const params = new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'http://localhost:3001/', state: 'bye' });
    const page = await browser.follow(await browser.get(`/session/end?${params}`));
    expect(page.body).toContain('Sign out');
    const form = parseForm(page.body, '/session/end/confirm');
    const done = await browser.follow(await browser.post(form.action, { ...form.fields, logout: 'yes' }));
    expect(done.url).toBe('http://localhost:3001/?state=bye');

    // The session is gone: a new authorization request shows the login page again.
    const again = await browser.follow(await browser.get(`/auth?${new URLSearchParams({
      client_id: 'sales', redirect_uri: SALES_CALLBACK, response_type: 'code', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
    })}`));
    expect(again.body).toContain('name="password"');
  });

  it('refuses an unregistered post-logout redirect URI', async () => {
    const { browser, tokens } = await signIn();
    const params = new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://evil.example/' });
    const page = await browser.follow(await browser.get(`/session/end?${params}`));
    expect(page.response.status).toBe(400);
    expect(page.body).not.toContain('evil.example/"');
  });
});
