// The full authorization code + PKCE flow through the real pages, on PostgreSQL, with tokens
// verified by jose against the published JWKS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startTestHub, type TestHub } from './support/hub.js';
import { authorize, Browser } from './support/browser.js';

let t: TestHub;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  t = await startTestHub();
  jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
  await t.hub.users.create({ email: 'ada@example.com', password: 'correct horse battery', fullName: 'Ada Lovelace' });
});
afterAll(() => t?.stop());

async function exchange(clientId: string, code: string, verifier: string, redirectUri: string) {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (t.secrets[clientId]) headers.authorization = `Basic ${Buffer.from(`${clientId}:${t.secrets[clientId]}`).toString('base64')}`;
  else body.set('client_id', clientId);
  const response = await fetch(`${t.url}/token`, { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

describe('discovery and JWKS', () => {
  it('publishes OpenID configuration for the issuer', async () => {
    const response = await fetch(`${t.url}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const metadata = await response.json();
    expect(metadata.issuer).toBe(t.url);
    expect(metadata.jwks_uri).toBe(`${t.url}/jwks`);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.response_types_supported).toEqual(['code']);
    expect(metadata.grant_types_supported).toEqual(expect.arrayContaining([
      'authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code',
    ]));
    expect(metadata.device_authorization_endpoint).toBe(`${t.url}/device/auth`);
    expect(metadata.end_session_endpoint).toBe(`${t.url}/session/end`);
    expect(metadata.introspection_endpoint).toBe(`${t.url}/token/introspection`);
    expect(metadata.revocation_endpoint).toBe(`${t.url}/token/revocation`);
  });

  it('publishes RS256 public keys with unique kids and no private parts', async () => {
    const { keys } = await (await fetch(`${t.url}/jwks`)).json();
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      expect(key.d).toBeUndefined();
      expect(key.p).toBeUndefined();
    }
    expect(new Set(keys.map((k: { kid: string }) => k.kid)).size).toBe(keys.length);
  });
});

describe('authorization code + PKCE through the login and consent pages', () => {
  it('signs a user in to a first-party project and issues verifiable tokens', async () => {
    const browser = new Browser(t.url);
    const redirectUri = 'http://localhost:3001/auth/callback';
    const result = await authorize(browser, {
      clientId: 'sales', redirectUri, email: 'ada@example.com', password: 'correct horse battery',
      scope: 'openid email profile offline_access leads:read leads:write',
    });
    expect(result.returned.origin + result.returned.pathname).toBe(redirectUri);
    expect(result.returned.searchParams.get('state')).toBe(result.expectedState);
    expect(result.code).toBeTruthy();

    const { status, body } = await exchange('sales', result.code!, result.verifier, redirectUri);
    expect(status).toBe(200);
    expect(body.token_type).toBe('Bearer');
    expect(body.refresh_token).toBeTruthy();

    const id = await jwtVerify(body.id_token, jwks, { issuer: t.url, audience: 'sales', algorithms: ['RS256'] });
    expect(id.payload).toMatchObject({ email: 'ada@example.com', email_verified: false, name: 'Ada Lovelace' });
    const user = await t.hub.users.findByEmail('ada@example.com');
    expect(id.payload.sub).toBe(user!.id);

    const access = await jwtVerify(body.access_token, jwks, { issuer: t.url, audience: 'urn:nexus:sales', algorithms: ['RS256'], typ: 'at+jwt' });
    expect(decodeProtectedHeader(body.access_token).typ).toBe('at+jwt');
    expect(access.payload).toMatchObject({ sub: user!.id, client_id: 'sales', role: 'user', email: 'ada@example.com' });
    // The access token is for the project's API: it carries the API scopes, not the OpenID ones.
    expect(String(access.payload.scope).split(' ').sort()).toEqual(['leads:read', 'leads:write']);
  });

  it('asks a third-party project for consent, listing the scopes in plain words', async () => {
    const browser = new Browser(t.url);
    const redirectUri = 'http://localhost:3005/auth/callback';
    const result = await authorize(browser, {
      clientId: 'agi-safety', redirectUri, email: 'ada@example.com', password: 'correct horse battery', consent: false,
      scope: 'openid email research:read',
    });
    expect(result.body).toContain('AGI Safety');
    expect(result.body).toContain('See your email address');
    expect(result.body).toContain('View your research');
    expect(result.code).toBeNull();
  });

  it('lets a new user sign up and lands them in the project', async () => {
    const browser = new Browser(t.url);
    const redirectUri = 'http://localhost:3002/auth/callback';
    const result = await authorize(browser, {
      clientId: 'dream-people', redirectUri, email: 'Grace@Example.com', password: 'a long enough password', signup: { name: 'Grace Hopper' },
    });
    expect(result.code).toBeTruthy();
    const { body } = await exchange('dream-people', result.code!, result.verifier, redirectUri);
    const id = await jwtVerify(body.id_token, jwks, { issuer: t.url, audience: 'dream-people' });
    expect(id.payload).toMatchObject({ email: 'grace@example.com', name: 'Grace Hopper' });
  });

  it('lets a public client (PKCE, no secret) sign in', async () => {
    const browser = new Browser(t.url);
    const redirectUri = 'http://localhost:3010/auth/callback';
    const result = await authorize(browser, { clientId: 'testing', redirectUri, email: 'ada@example.com', password: 'correct horse battery' });
    const { status, body } = await exchange('testing', result.code!, result.verifier, redirectUri);
    expect(status).toBe(200);
    await jwtVerify(body.access_token, jwks, { issuer: t.url, audience: 'urn:nexus:testing' });
  });
});
