// The admin API (/api/admin/*) over real HTTP: authentication with a real hub-audience access
// token obtained through the real login pages, every operation, and bad input. Errors are JSON
// with a stable `error` code; nothing ever answers 500 or leaks a stack trace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import { startTestHub, type TestHub } from './support/hub.js';
import { authorize, Browser } from './support/browser.js';
import { basicAuth, postForm } from './support/oauth.js';
import { ProjectAccess } from '../src/accounts/access.js';

const CONSOLE = 'nexus-console';
const CONSOLE_CALLBACK = 'http://localhost:3020/auth/callback';
const SALES_CALLBACK = 'http://localhost:3001/auth/callback';
const HUB_AUDIENCE = 'urn:nexus:hub';
const PASSWORD = 'correct horse battery';
const ADMIN = 'root@example.com';
// clients.json, plus the hub-internal nexus-account client the hub registers for its own pages.
const CLIENT_IDS = ['agi-safety', 'dream-people', 'liminal', 'nexus-account', 'nexus-console', 'resonance', 'sales', 'shelter', 'testing'];
const API_KEY_PATTERN = /^nxk_(live|test)_[A-Za-z0-9_-]{43}$/;
const ERROR_CODE = /^[a-z][a-z_]*$/;

let t: TestHub;
let jwks: ReturnType<typeof createRemoteJWKSet>;
let access: ProjectAccess;
/** The main administrator's access token (replaced after a key rotation retires its key). */
let adminToken: string;

interface ApiResponse {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

interface ApiOptions {
  token?: string | null;
  json?: unknown;
  /** A raw body sent as-is (with `contentType`, default application/json). */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** Calls /api/admin; every error answer is checked to be JSON with a stable code and no stack. */
async function api(method: string, path: string, options: ApiOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  const token = options.token === undefined ? adminToken : options.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.raw !== undefined) {
    body = options.raw;
    headers['content-type'] = options.contentType ?? 'application/json';
  } else if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(`${t.url}/api/admin${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (response.status >= 400) {
    expect(response.status, `${method} ${path}: ${text}`).toBeLessThan(500);
    expect(response.headers.get('content-type'), `${method} ${path}`).toMatch(/^application\/json/);
    expect(parsed, `${method} ${path}: ${text}`).toBeTypeOf('object');
    expect(parsed.error, `${method} ${path}: ${text}`).toMatch(ERROR_CODE);
    expect(text).not.toMatch(/\bat .+:\d+:\d+|node_modules|Prisma|Error:/);
  }
  return { status: response.status, body: parsed, text, headers: response.headers };
}

/** Signs in to the Nexus Console through the real pages and redeems the code (public client + PKCE). */
async function consoleSignIn(email: string, password = PASSWORD) {
  const browser = new Browser(t.url);
  const result = await authorize(browser, { clientId: CONSOLE, redirectUri: CONSOLE_CALLBACK, scope: 'openid admin', email, password });
  if (!result.code) return { result, tokens: undefined };
  const tokens = await postForm(t, '/token', CONSOLE, {
    grant_type: 'authorization_code', code: result.code, code_verifier: result.verifier, redirect_uri: CONSOLE_CALLBACK,
  });
  expect(tokens.status, tokens.text).toBe(200);
  return { result, tokens: tokens.body };
}

async function tokenFor(email: string, password = PASSWORD) {
  const { result, tokens } = await consoleSignIn(email, password);
  expect(tokens, `no code for ${email}: ${result.response.status} ${result.body.slice(0, 300)}`).toBeDefined();
  return tokens!.access_token;
}

async function createUser(email: string, role?: 'admin' | 'user' | 'read_only') {
  const user = await t.hub.users.create({ email, password: PASSWORD, fullName: email.split('@')[0] });
  if (role) await access.grant(user.id, CONSOLE, role);
  return user;
}

async function clientCredentials(clientId: string, secret: string, scope?: string) {
  const response = await fetch(`${t.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, secret) },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!accept(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await probe();
  }
  return value;
}

async function publishedKids(): Promise<string[]> {
  const { keys } = (await (await fetch(`${t.url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
  return keys.map((key) => key.kid);
}

beforeAll(async () => {
  t = await startTestHub();
  jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
  access = new ProjectAccess(t.hub.db.prisma);
  await createUser(ADMIN, 'admin');
  adminToken = await tokenFor(ADMIN);
});
afterAll(() => t?.stop());

describe('authentication', () => {
  it('issues administrators an RS256 hub-audience JWT with the admin role through the real login', async () => {
    const { payload, protectedHeader } = await jwtVerify(adminToken, jwks, {
      issuer: t.url, audience: HUB_AUDIENCE, algorithms: ['RS256'], typ: 'at+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    const admin = await t.hub.users.findByEmail(ADMIN);
    expect(payload).toMatchObject({ sub: admin!.id, client_id: CONSOLE, role: 'admin', email: ADMIN, scope: 'admin' });

    const response = await api('GET', '/users');
    expect(response.status).toBe(200);
    expect(Array.isArray(response.body)).toBe(true);
  });

  it('answers 401 invalid_token with a Bearer challenge when there is no token', async () => {
    for (const path of ['/clients', '/users', '/whatever']) {
      const response = await api('GET', path, { token: null });
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_token');
      const challenge = response.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(/^Bearer /);
      expect(challenge).toContain('error="invalid_token"');
    }
    // Not a Bearer scheme, or credentials a client would use at /token: still no.
    for (const authorization of [basicAuth('sales', t.secrets.sales), 'Bearer', `Bearer ${adminToken} extra`, `Token ${adminToken}`]) {
      const response = await api('GET', '/clients', { token: null, headers: { authorization } });
      expect(response.status, authorization).toBe(401);
      expect(response.body.error).toBe('invalid_token');
    }
  });

  it('accepts the Bearer scheme in any case', async () => {
    const response = await api('GET', '/clients', { token: null, headers: { authorization: `bearer ${adminToken}` } });
    expect(response.status).toBe(200);
  });

  it('refuses garbage, tampered, forged, expired and unsigned tokens with 401', async () => {
    const [header, payload, signature] = adminToken.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const now = Math.floor(Date.now() / 1000);

    // The hub's own signing key, to show that what follows is refused for the right reason.
    const { jwks: loaded } = await t.hub.keys.load();
    const hubJwk = loaded.keys[0] as JWK;
    const hubKey = await importJWK(hubJwk, 'RS256');
    const sign = (body: Record<string, unknown>, key = hubKey, kid = hubJwk.kid) =>
      new SignJWT(body).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid }).sign(key);

    const control = await sign({ ...claims, iat: now, exp: now + 300 });
    expect((await api('GET', '/clients', { token: control })).status).toBe(200);

    const { privateKey: otherKey } = await generateKeyPair('RS256');
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, email: 'mallory@example.com' })).toString('base64url')}.${signature}`;
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: hubJwk.kid })
      .sign(new TextEncoder().encode('a shared secret that nobody should accept'));

    const refused: Record<string, string> = {
      garbage: 'not-a-jwt',
      truncated: `${header}.${payload}`,
      tampered,
      unsigned,
      hs256,
      'signed by another key': await sign(claims, otherKey, hubJwk.kid),
      expired: await sign({ ...claims, iat: now - 3600, exp: now - 600 }),
      'wrong issuer': await sign({ ...claims, iss: 'http://evil.example', iat: now, exp: now + 300 }),
      'wrong audience': await sign({ ...claims, aud: 'urn:nexus:sales', iat: now, exp: now + 300 }),
      'no exp': await sign(Object.fromEntries(Object.entries(claims).filter(([name]) => name !== 'exp'))),
      'not an access token (typ JWT)': await new SignJWT({ ...claims, iat: now, exp: now + 300 })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: hubJwk.kid }).sign(hubKey),
    };
    for (const [what, token] of Object.entries(refused)) {
      const response = await api('GET', '/clients', { token });
      expect(response.status, what).toBe(401);
      expect(response.body.error, what).toBe('invalid_token');
      expect(response.headers.get('www-authenticate'), what).toMatch(/^Bearer /);
    }
  });

  it('refuses tokens issued for another audience: a project API token or an ID token', async () => {
    const machine = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials', scope: 'leads:read' });
    expect(machine.status).toBe(200);
    expect((await api('GET', '/clients', { token: machine.body.access_token })).status).toBe(401);

    // The administrator signing in to another project gets a token for that project's API only.
    const browser = new Browser(t.url);
    const login = await authorize(browser, { clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid leads:read', email: ADMIN, password: PASSWORD });
    const sales = await postForm(t, '/token', 'sales', {
      grant_type: 'authorization_code', code: login.code!, code_verifier: login.verifier, redirect_uri: SALES_CALLBACK,
    });
    expect(sales.status).toBe(200);
    const { payload } = await jwtVerify(sales.body.access_token, jwks, { issuer: t.url, audience: 'urn:nexus:sales' });
    expect(payload.sub).toBe((await t.hub.users.findByEmail(ADMIN))!.id);
    const salesToken = await api('GET', '/clients', { token: sales.body.access_token });
    expect(salesToken.status).toBe(401);
    expect(salesToken.body.error).toBe('invalid_token');
    expect((await api('GET', '/clients', { token: sales.body.id_token })).status).toBe(401);

    // The console's own ID token has the console's client id as audience, not the hub API.
    const { tokens } = await consoleSignIn(ADMIN);
    expect((await api('GET', '/clients', { token: tokens!.id_token })).status).toBe(401);
  });

  it('does not let a user without a grant sign in to the console at all (403 no-access page)', async () => {
    await createUser('nobody@example.com');
    const { result, tokens } = await consoleSignIn('nobody@example.com');
    expect(tokens).toBeUndefined();
    expect(result.code).toBeNull();
    expect(result.response.status).toBe(403);
    expect(result.body).toContain('have access to Nexus Console');
    expect(result.body).toContain('nobody@example.com');
  });

  it('lets a read_only console user sign in, but the API answers 403 insufficient_role', async () => {
    await createUser('viewer@example.com', 'read_only');
    const token = await tokenFor('viewer@example.com');
    const { payload } = await jwtVerify(token, jwks, { issuer: t.url, audience: HUB_AUDIENCE });
    expect(payload.role).toBe('read_only');
    for (const [method, path] of [['GET', '/clients'], ['GET', '/users'], ['POST', '/keys/rotate'], ['GET', '/nowhere']]) {
      const response = await api(method, path, { token });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(response.body.error).toBe('insufficient_role');
      expect(response.headers.get('www-authenticate')).toContain('error="insufficient_role"');
    }
    // A user role is not enough either.
    await createUser('member@example.com', 'user');
    const member = await api('GET', '/users', { token: await tokenFor('member@example.com') });
    expect(member.status).toBe(403);
    expect(member.body.error).toBe('insufficient_role');
  });

  it('re-checks the role on every request: a revoked, disabled or deleted admin is refused at once', async () => {
    await createUser('second@example.com', 'admin');
    const token = await tokenFor('second@example.com');
    expect((await api('GET', '/clients', { token })).status).toBe(200);

    const revoked = await api('DELETE', '/access', { json: { email: 'second@example.com', project: CONSOLE } });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ email: 'second@example.com', project: CONSOLE, revoked: true });
    const refused = await api('GET', '/clients', { token });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('insufficient_role');

    // Granted again, the same token works; disabled, it stops for good (disabling revokes the
    // user's grants, so enabling does not revive it: 401); a new sign-in works until deleted.
    expect((await api('POST', '/access', { json: { email: 'second@example.com', project: CONSOLE, role: 'admin' } })).status).toBe(200);
    expect((await api('GET', '/clients', { token })).status).toBe(200);
    expect((await api('POST', '/users/second@example.com/disable')).status).toBe(200);
    expect((await api('GET', '/clients', { token })).status).toBe(401);
    expect((await api('POST', '/users/second@example.com/enable')).status).toBe(200);
    expect((await api('GET', '/clients', { token })).status).toBe(401);
    const fresh = await tokenFor('second@example.com');
    expect((await api('GET', '/clients', { token: fresh })).status).toBe(200);
    expect((await api('DELETE', '/users/second@example.com')).status).toBe(204);
    expect((await api('GET', '/clients', { token: fresh })).status).toBe(401);
  });
});

describe('clients', () => {
  const reportsRedirect = 'https://reports.example.com/auth/callback';
  /** The `reports` client's current secret, as the API showed it. */
  let reportsSecret = '';

  it('lists the registered clients without any secret', async () => {
    const response = await api('GET', '/clients');
    expect(response.status).toBe(200);
    expect(response.body.map((client: { id: string }) => client.id).sort()).toEqual(CLIENT_IDS);
    const console = response.body.find((client: { id: string }) => client.id === CONSOLE);
    expect(console).toMatchObject({ audience: HUB_AUDIENCE, public: true, access: 'granted', enabled: true, scopes: ['admin'] });
    for (const secret of Object.values(t.secrets)) expect(response.text).not.toContain(secret);
    expect(response.text).not.toMatch(/secret/i);

    const one = await api('GET', '/clients/sales');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: 'sales', audience: 'urn:nexus:sales', grantTypes: expect.arrayContaining(['client_credentials']) });
    expect(one.text).not.toContain(t.secrets.sales);
    expect((await api('GET', '/clients/nope')).body.error).toBe('not_found');
  });

  it('creates a confidential client (201, secret shown once) that can get tokens at once', async () => {
    const created = await api('POST', '/clients', {
      json: {
        id: 'reports', name: 'Reports', redirectUris: [reportsRedirect], grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
        scopes: ['reports:read', 'reports:write'],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.client).toMatchObject({ id: 'reports', name: 'Reports', audience: 'urn:nexus:reports', public: false, enabled: true });
    expect(created.body.secret).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    expect(created.body.client).not.toHaveProperty('secret');

    const fetched = await api('GET', '/clients/reports');
    expect(fetched.status).toBe(200);
    expect(fetched.text).not.toContain(created.body.secret);
    expect((await api('GET', '/clients')).body).toHaveLength(CLIENT_IDS.length + 1);

    const tokens = await clientCredentials('reports', created.body.secret, 'reports:read');
    expect(tokens.status).toBe(200);
    const { payload } = await jwtVerify(tokens.body.access_token, jwks, { issuer: t.url, audience: 'urn:nexus:reports' });
    expect(payload).toMatchObject({ client_id: 'reports', scope: 'reports:read' });
    reportsSecret = created.body.secret;

    const publicClient = await api('POST', '/clients', {
      json: { id: 'kiosk', name: 'Kiosk', public: true, redirectUris: ['http://127.0.0.1:7777/cb'] },
    });
    expect(publicClient.status).toBe(201);
    expect(publicClient.body.secret).toBeNull();
    expect(publicClient.body.client.public).toBe(true);
  });

  it('refuses a duplicate id or audience with 409 already_exists', async () => {
    const duplicate = await api('POST', '/clients', { json: { id: 'reports', name: 'Again', redirectUris: [reportsRedirect] } });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error).toBe('already_exists');
    const sameAudience = await api('POST', '/clients', {
      json: { id: 'reports-two', name: 'Two', redirectUris: [reportsRedirect], audience: 'urn:nexus:sales' },
    });
    expect(sameAudience.status).toBe(409);
    expect(sameAudience.body.error).toBe('already_exists');
  });

  it('refuses invalid metadata with 400 invalid_client_metadata, naming the problem', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ id: 'bad-redirect', name: 'Bad', redirectUris: ['http://evil.example.com/cb'] }, /https/],
      [{ id: 'bad-redirect', name: 'Bad', redirectUris: ['not a url'] }, /absolute URL/],
      [{ id: 'bad-redirect', name: 'Bad', redirectUris: ['https://app.example.com/cb#frag'] }, /fragment/],
      [{ id: 'Bad Id!', name: 'Bad', redirectUris: [reportsRedirect] }, /id must be/],
      [{ id: 'no-name', redirectUris: [reportsRedirect] }, /name is required/],
      [{ id: 'bad-grant', name: 'Bad', redirectUris: [reportsRedirect], grantTypes: ['password'] }, /not supported/],
      [{ id: 'bad-public', name: 'Bad', public: true, redirectUris: [reportsRedirect], grantTypes: ['client_credentials'] }, /public client/],
      [{ id: 'bad-role', name: 'Bad', redirectUris: [reportsRedirect], defaultRole: 'root' }, /defaultRole/],
      [{ id: 'bad-types', name: 'Bad', redirectUris: 'https://app.example.com/cb' }, /list of strings/],
    ];
    for (const [input, message] of cases) {
      const response = await api('POST', '/clients', { json: input });
      expect(response.status, JSON.stringify(input)).toBe(400);
      expect(response.body.error).toBe('invalid_client_metadata');
      expect(response.body.error_description).toMatch(message);
    }
    expect((await api('GET', '/clients/bad-redirect')).status).toBe(404);
  });

  it('updates a client with PATCH, keeping its secret', async () => {
    const patched = await api('PATCH', '/clients/reports', { json: { name: 'Quarterly Reports', scopes: ['reports:read'] } });
    expect(patched.status).toBe(200);
    expect(patched.body.secret).toBeNull();
    expect(patched.body.client).toMatchObject({ id: 'reports', name: 'Quarterly Reports', scopes: ['reports:read'], audience: 'urn:nexus:reports' });
    expect((await api('GET', '/clients/reports')).body.name).toBe('Quarterly Reports');

    // The old secret still works; the dropped scope is no longer granted.
    const tokens = await clientCredentials('reports', reportsSecret, 'reports:read reports:write');
    expect(tokens.status).toBe(200);
    const { payload } = await jwtVerify(tokens.body.access_token, jwks, { issuer: t.url, audience: 'urn:nexus:reports' });
    expect(payload.scope).toBe('reports:read');

    const invalid = await api('PATCH', '/clients/reports', { json: { redirectUris: ['http://evil.example.com/cb'] } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error).toBe('invalid_client_metadata');
    const missing = await api('PATCH', '/clients/nope', { json: { name: 'x' } });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('not_found');
  });

  it('refuses to PATCH a client onto an audience another client has (409 already_exists)', async () => {
    const response = await api('PATCH', '/clients/reports', { json: { audience: 'urn:nexus:sales' } });
    expect(response.status).toBe(409);
    expect(response.body.error).toBe('already_exists');
    expect((await api('GET', '/clients/reports')).body.audience).toBe('urn:nexus:reports');
  });

  it('rotates a secret: the new one works for client credentials, the old one gets 401', async () => {
    const rotated = await api('POST', '/clients/reports/rotate-secret');
    expect(rotated.status).toBe(200);
    expect(rotated.body.id).toBe('reports');
    expect(rotated.body.secret).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    expect(rotated.body.secret).not.toBe(reportsSecret);

    expect((await clientCredentials('reports', rotated.body.secret)).status).toBe(200);
    const old = await clientCredentials('reports', reportsSecret);
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('invalid_client');
    reportsSecret = rotated.body.secret;

    const publicClient = await api('POST', '/clients/kiosk/rotate-secret');
    expect(publicClient.status).toBe(400);
    expect(publicClient.body.error).toBe('public_client');
    expect((await api('POST', '/clients/nope/rotate-secret')).status).toBe(404);
  });

  it('disables and enables a client', async () => {
    const disabled = await api('POST', '/clients/reports/disable');
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ id: 'reports', enabled: false });
    const refused = await clientCredentials('reports', reportsSecret);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    expect((await api('GET', '/clients/reports')).body.enabled).toBe(false);

    const enabled = await api('POST', '/clients/reports/enable');
    expect(enabled.status).toBe(200);
    expect(enabled.body.enabled).toBe(true);
    expect((await clientCredentials('reports', reportsSecret)).status).toBe(200);
    expect((await api('POST', '/clients/nope/disable')).status).toBe(404);
  });

  it('deletes a client: 204, then 404 not_found, and its secret no longer works', async () => {
    const removed = await api('DELETE', '/clients/reports');
    expect(removed.status).toBe(204);
    expect(removed.text).toBe('');
    const gone = await api('GET', '/clients/reports');
    expect(gone.status).toBe(404);
    expect(gone.body.error).toBe('not_found');
    expect((await api('DELETE', '/clients/reports')).status).toBe(404);
    expect((await clientCredentials('reports', reportsSecret)).status).toBe(401);
    expect((await api('DELETE', '/clients/kiosk')).status).toBe(204);
    expect((await api('GET', '/clients')).body.map((client: { id: string }) => client.id).sort()).toEqual(CLIENT_IDS);
  });
});

describe('users', () => {
  const GRACE = 'grace@example.com';

  it('creates a user (201) and never shows a password hash', async () => {
    const created = await api('POST', '/users', { json: { email: ' Grace@Example.com ', password: PASSWORD, name: 'Grace Hopper' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ email: GRACE, fullName: 'Grace Hopper', hasPassword: true, emailVerified: true, disabledAt: null });
    expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.body).not.toHaveProperty('passwordHash');
    expect(created.text).not.toMatch(/\$2[aby]\$/);

    const noPassword = await api('POST', '/users', { json: { email: 'invited@example.com' } });
    expect(noPassword.status).toBe(201);
    expect(noPassword.body.hasPassword).toBe(false);

    const taken = await api('POST', '/users', { json: { email: GRACE, password: PASSWORD } });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toBe('email_taken');
    const weak = await api('POST', '/users', { json: { email: 'weak@example.com', password: 'short' } });
    expect(weak.status).toBe(400);
    expect(weak.body.error).toBe('weak_password');
    const invalid = await api('POST', '/users', { json: { email: 'not-an-email', password: PASSWORD } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error).toBe('invalid_email');
    const missing = await api('POST', '/users', { json: { password: PASSWORD } });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');
  });

  it('creates an administrator with admin: true, who can then use the API', async () => {
    const created = await api('POST', '/users', { json: { email: 'ops@example.com', password: PASSWORD, admin: true } });
    expect(created.status).toBe(201);
    const grants = await api('GET', `/access?project=${CONSOLE}`);
    expect(grants.body).toEqual(expect.arrayContaining([expect.objectContaining({ email: 'ops@example.com', project: CONSOLE, role: 'admin' })]));
    expect((await api('GET', '/users', { token: await tokenFor('ops@example.com') })).status).toBe(200);
  });

  it('lists and searches users, and shows one with its access and API keys', async () => {
    const all = await api('GET', '/users');
    expect(all.status).toBe(200);
    expect(all.body.map((user: { email: string }) => user.email)).toEqual(expect.arrayContaining([ADMIN, GRACE]));
    expect(all.text).not.toContain('passwordHash');
    expect(all.text).not.toMatch(/\$2[aby]\$/);

    const byEmail = await api('GET', '/users?search=GRACE@');
    expect(byEmail.body.map((user: { email: string }) => user.email)).toEqual([GRACE]);
    const byName = await api('GET', `/users?search=${encodeURIComponent('hopper')}`);
    expect(byName.body.map((user: { email: string }) => user.email)).toEqual([GRACE]);
    expect((await api('GET', '/users?search=nobody-matches-this')).body).toEqual([]);

    const one = await api('GET', `/users/${encodeURIComponent('Grace@Example.com')}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ email: GRACE, access: [], apiKeys: [], hasPassword: true });
    expect(one.body).not.toHaveProperty('passwordHash');
    const admin = await api('GET', `/users/${ADMIN}`);
    expect(admin.body.access).toEqual([expect.objectContaining({ project: CONSOLE, role: 'admin', email: ADMIN })]);
    const missing = await api('GET', '/users/ghost@example.com');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('not_found');
  });

  it('disables a user: their refresh token and sign-in stop working; enabling restores sign-in', async () => {
    const browser = new Browser(t.url);
    const login = await authorize(browser, {
      clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid offline_access leads:read', email: GRACE, password: PASSWORD,
    });
    const tokens = await postForm(t, '/token', 'sales', {
      grant_type: 'authorization_code', code: login.code!, code_verifier: login.verifier, redirect_uri: SALES_CALLBACK,
    });
    expect(tokens.body.refresh_token).toBeTruthy();

    const disabled = await api('POST', `/users/${GRACE}/disable`);
    expect(disabled.status).toBe(200);
    expect(disabled.body.disabledAt).toBeTruthy();
    expect(disabled.body).not.toHaveProperty('passwordHash');
    const refresh = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe('invalid_grant');
    const refusedLogin = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid', email: GRACE, password: PASSWORD });
    expect(refusedLogin.code).toBeNull();

    const enabled = await api('POST', `/users/${GRACE}/enable`);
    expect(enabled.status).toBe(200);
    expect(enabled.body.disabledAt).toBeNull();
    const again = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid', email: GRACE, password: PASSWORD });
    expect(again.code).toBeTruthy();
    expect((await api('POST', '/users/ghost@example.com/disable')).status).toBe(404);
  });

  it('searches for the literal text, not LIKE wildcards', async () => {
    for (const term of ['_', '%']) {
      const response = await api('GET', `/users?search=${encodeURIComponent(term)}`);
      expect(response.status).toBe(200);
      expect(response.body, term).toEqual([]);
    }
  });

  it('sets a password: the new one signs in, the old one does not', async () => {
    const changed = await api('POST', `/users/${GRACE}/password`, { json: { password: 'a brand new passphrase' } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ email: GRACE, hasPassword: true });
    expect(changed.body).not.toHaveProperty('passwordHash');
    const oldLogin = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid', email: GRACE, password: PASSWORD });
    expect(oldLogin.code).toBeNull();
    const newLogin = await authorize(new Browser(t.url), {
      clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid', email: GRACE, password: 'a brand new passphrase',
    });
    expect(newLogin.code).toBeTruthy();

    const weak = await api('POST', `/users/${GRACE}/password`, { json: { password: 'short' } });
    expect(weak.status).toBe(400);
    expect(weak.body.error).toBe('weak_password');
    const missing = await api('POST', `/users/${GRACE}/password`, { json: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');
    expect((await api('POST', '/users/ghost@example.com/password', { json: { password: 'a brand new passphrase' } })).status).toBe(404);
  });

  it('deletes a user: 204, then 404', async () => {
    const removed = await api('DELETE', `/users/${GRACE}`);
    expect(removed.status).toBe(204);
    const gone = await api('GET', `/users/${GRACE}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error).toBe('not_found');
    expect((await api('DELETE', `/users/${GRACE}`)).status).toBe(404);
    expect((await api('GET', '/users?search=grace')).body).toEqual([]);
  });
});

describe('project access', () => {
  const ALAN = 'alan@example.com';

  it('grants, lists and revokes access', async () => {
    await createUser(ALAN);
    const granted = await api('POST', '/access', { json: { email: ALAN, project: 'agi-safety', role: 'read_only' } });
    expect(granted.status).toBe(200);
    expect(granted.body).toMatchObject({ email: ALAN, project: 'agi-safety', role: 'read_only', source: 'admin' });

    const byProject = await api('GET', '/access?project=agi-safety');
    expect(byProject.status).toBe(200);
    expect(byProject.body).toEqual([expect.objectContaining({ email: ALAN, project: 'agi-safety', role: 'read_only' })]);
    const byEmail = await api('GET', `/access?email=${ALAN}`);
    expect(byEmail.body).toEqual([expect.objectContaining({ project: 'agi-safety' })]);
    expect((await api('GET', '/access?project=liminal')).body).toEqual([]);
    const all = await api('GET', '/access');
    expect(all.body.map((entry: { email: string }) => entry.email)).toEqual(expect.arrayContaining([ADMIN, ALAN]));

    // A grant changes the role the project's tokens carry.
    const upgraded = await api('POST', '/access', { json: { email: ALAN, project: 'sales', role: 'admin' } });
    expect(upgraded.status).toBe(200);
    const login = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: SALES_CALLBACK, scope: 'openid leads:read', email: ALAN, password: PASSWORD });
    const tokens = await postForm(t, '/token', 'sales', {
      grant_type: 'authorization_code', code: login.code!, code_verifier: login.verifier, redirect_uri: SALES_CALLBACK,
    });
    const { payload } = await jwtVerify(tokens.body.access_token, jwks, { issuer: t.url, audience: 'urn:nexus:sales' });
    expect(payload.role).toBe('admin');

    const revoked = await api('DELETE', '/access', { json: { email: ALAN, project: 'agi-safety' } });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ email: ALAN, project: 'agi-safety', revoked: true });
    expect((await api('GET', '/access?project=agi-safety')).body).toEqual([]);

    const again = await api('DELETE', '/access', { json: { email: ALAN, project: 'agi-safety' } });
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('no_grant');
  });

  it('refuses an invalid role, an unknown project or user, and missing fields', async () => {
    const role = await api('POST', '/access', { json: { email: ALAN, project: 'sales', role: 'superuser' } });
    expect(role.status).toBe(400);
    expect(role.body.error).toBe('invalid_role');
    const project = await api('POST', '/access', { json: { email: ALAN, project: 'no-such-project', role: 'user' } });
    expect(project.status).toBe(404);
    expect(project.body.error).toBe('not_found');
    const user = await api('POST', '/access', { json: { email: 'ghost@example.com', project: 'sales', role: 'user' } });
    expect(user.status).toBe(404);
    expect(user.body.error).toBe('not_found');
    const missing = await api('POST', '/access', { json: { email: ALAN, project: 'sales' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');
    const revokeMissing = await api('DELETE', '/access', { json: { email: ALAN } });
    expect(revokeMissing.status).toBe(400);
    expect(revokeMissing.body.error).toBe('invalid_request');
    expect((await api('GET', '/access?email=ghost@example.com')).status).toBe(404);
  });
});

describe('API keys', () => {
  const OWNER = 'keyholder@example.com';
  let apiKeyId = '';

  it('creates a key (201) shown once, never listed again', async () => {
    await createUser(OWNER);
    const created = await api('POST', '/apikeys', { json: { email: OWNER, name: 'nightly job', env: 'live', rateLimit: 10, expires: '30d' } });
    expect(created.status).toBe(201);
    const { key, id } = created.body;
    expect(key).toMatch(API_KEY_PATTERN);
    expect(key.startsWith('nxk_live_')).toBe(true);
    expect(created.body).toMatchObject({ email: OWNER, name: 'nightly job', env: 'live', prefix: key.slice(0, 13), rateLimit: 10, revokedAt: null, lastUsedAt: null });
    const expiresIn = new Date(created.body.expiresAt).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(29.9 * 86_400_000);
    expect(expiresIn).toBeLessThanOrEqual(30 * 86_400_000);
    expect(created.body).not.toHaveProperty('keyHash');

    const test = await api('POST', '/apikeys', { json: { email: OWNER, name: 'sandbox', env: 'test' } });
    expect(test.status).toBe(201);
    expect(test.body.key).toMatch(/^nxk_test_[A-Za-z0-9_-]{43}$/);
    expect(test.body.expiresAt).toBeNull();
    expect(test.body.key).not.toBe(key);

    const listed = await api('GET', '/apikeys');
    expect(listed.status).toBe(200);
    expect(listed.body.map((entry: { id: string }) => entry.id)).toEqual(expect.arrayContaining([id, test.body.id]));
    for (const secret of [key, test.body.key]) {
      expect(listed.text).not.toContain(secret);
      expect(listed.text).not.toContain(secret.slice(13));
    }
    expect(listed.text).not.toMatch(/keyHash|[0-9a-f]{64}/);
    for (const entry of listed.body) expect(entry).not.toHaveProperty('key');

    const mine = await api('GET', `/apikeys?email=${OWNER}`);
    expect(mine.body.map((entry: { name: string }) => entry.name)).toEqual(['nightly job', 'sandbox']);
    expect((await api('GET', `/apikeys?email=${ADMIN}`)).body).toEqual([]);
    const user = await api('GET', `/users/${OWNER}`);
    expect(user.body.apiKeys.map((entry: { id: string }) => entry.id)).toEqual([id, test.body.id]);
    expect(user.text).not.toContain(key);
    apiKeyId = id;
  });

  it('refuses invalid key requests with stable codes', async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ email: OWNER, name: 'x', env: 'prod' }, 400, 'invalid_env'],
      [{ email: OWNER, name: 'x', env: 'live', rateLimit: 0 }, 400, 'invalid_rate_limit'],
      [{ email: OWNER, name: 'x', env: 'live', rateLimit: 2.5 }, 400, 'invalid_rate_limit'],
      [{ email: OWNER, name: 'x', env: 'live', rateLimit: '5' }, 400, 'invalid_request'],
      [{ email: OWNER, name: 'x', env: 'live', expires: 'soon' }, 400, 'invalid_expiry'],
      [{ email: OWNER, name: 'x', env: 'live', expires: '0d' }, 400, 'invalid_expiry'],
      [{ email: OWNER, name: 'x'.repeat(101), env: 'live' }, 400, 'invalid_name'],
      [{ email: OWNER, env: 'live' }, 400, 'invalid_request'],
      [{ email: 'ghost@example.com', name: 'x', env: 'live' }, 404, 'not_found'],
    ];
    for (const [input, status, error] of cases) {
      const response = await api('POST', '/apikeys', { json: input });
      expect(response.status, JSON.stringify(input)).toBe(status);
      expect(response.body.error, JSON.stringify(input)).toBe(error);
    }
    expect((await api('GET', `/apikeys?email=${OWNER}`)).body).toHaveLength(2);
  });

  it('revokes a key (idempotently) and answers 404 for unknown ids', async () => {
    const revoked = await api('POST', `/apikeys/${apiKeyId}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: apiKeyId, email: OWNER });
    expect(revoked.body.revokedAt).toBeTruthy();
    const again = await api('POST', `/apikeys/${apiKeyId}/revoke`);
    expect(again.status).toBe(200);
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    const listed = await api('GET', `/apikeys?email=${OWNER}`);
    expect(listed.body.find((entry: { id: string }) => entry.id === apiKeyId).revokedAt).toBe(revoked.body.revokedAt);

    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const missing = await api('POST', `/apikeys/${id}/revoke`);
      expect(missing.status).toBe(404);
      expect(missing.body.error).toBe('not_found');
    }
  });
});

describe('bad input', () => {
  it('answers malformed JSON with 400 JSON, not 500 and no stack trace', async () => {
    for (const raw of ['{"email": "x@example.com",', 'not json at all', '{"email": "\\u12"}']) {
      const response = await api('POST', '/users', { raw });
      expect(response.status, raw).toBe(400);
      expect(response.body.error).toBe('invalid_request');
      expect(response.text).not.toMatch(/SyntaxError|Unexpected token|at JSON\.parse/);
    }
    const access = await api('DELETE', '/access', { raw: '{"email":' });
    expect(access.status).toBe(400);
    expect(access.body.error).toBe('invalid_request');
  });

  it('answers wrong types with 400 invalid_request', async () => {
    const cases: Array<[string, string, unknown]> = [
      ['POST', '/users', { email: 42, password: PASSWORD }],
      ['POST', '/users', { email: 'typed@example.com', password: 12345678901 }],
      ['POST', '/users', { email: 'typed@example.com', name: ['Ada'] }],
      ['POST', '/users', ['typed@example.com']],
      ['POST', '/users', 'typed@example.com'],
      ['POST', '/users', null],
      ['POST', `/users/${ADMIN}/password`, { password: { value: 'x' } }],
      ['POST', '/access', { email: ADMIN, project: ['sales'], role: 'user' }],
      ['POST', '/access', { email: ADMIN, project: 'sales', role: 3 }],
      ['DELETE', '/access', { email: true, project: 'sales' }],
      ['POST', '/apikeys', { email: ADMIN, name: 'typed', env: 'live', rateLimit: '10' }],
      ['POST', '/apikeys', { email: ADMIN, name: 'typed', env: 'live', expires: 30 }],
      ['POST', '/apikeys', { email: ADMIN, name: { first: 'x' }, env: 'live' }],
    ];
    for (const [method, path, json] of cases) {
      const response = await api(method, path, { raw: JSON.stringify(json) });
      expect(response.status, `${method} ${path} ${JSON.stringify(json)}`).toBe(400);
      expect(response.body.error, `${method} ${path} ${JSON.stringify(json)}`).toBe('invalid_request');
    }
    expect((await api('GET', '/users?search=typed')).body).toEqual([]);

    // A form-encoded body is not parsed: the fields are missing.
    const form = await api('POST', '/users', { raw: 'email=form%40example.com', contentType: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(400);
    expect(form.body.error).toBe('invalid_request');
  });

  it('refuses a non-boolean admin flag instead of silently creating a non-admin', async () => {
    const response = await api('POST', '/users', { json: { email: 'strad@example.com', password: PASSWORD, admin: 'true' } });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
    expect((await api('GET', '/users/strad@example.com')).status).toBe(404);
  });

  it('answers a body over the limit with a JSON 413', async () => {
    const response = await api('POST', '/users', { raw: JSON.stringify({ email: 'big@example.com', name: 'x'.repeat(100_000) }) });
    expect(response.status).toBe(413);
    expect(response.body.error).toMatch(ERROR_CODE);
  });

  it('answers the bare /api/admin prefix like any unknown admin path', async () => {
    const anonymous = await api('GET', '', { token: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('invalid_token');
    const response = await api('GET', '');
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('not_found');
  });

  it('answers unknown admin paths with a JSON 404 after authentication', async () => {
    for (const [method, path] of [['GET', '/'], ['GET', '/whatever'], ['POST', '/whatever/deeper'], ['PUT', '/users'], ['GET', '/clients/sales/nope']]) {
      const response = await api(method, path);
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.body.error).toBe('not_found');
      const anonymous = await api(method, path, { token: null });
      expect(anonymous.status, `${method} ${path}`).toBe(401);
      expect(anonymous.body.error).toBe('invalid_token');
    }
  });
});

describe('signing keys', () => {
  it('lists keys without private material, one current signing key', async () => {
    const response = await api('GET', '/keys');
    expect(response.status).toBe(200);
    const signing = response.body.filter((key: { use: string }) => key.use === 'sig');
    expect(signing.filter((key: { current: boolean; retiredAt: string | null }) => key.current && !key.retiredAt)).toHaveLength(1);
    expect(signing[0]).toMatchObject({ alg: 'RS256', current: true, retiredAt: null });
    expect(response.text).not.toMatch(/private|"d"|"p"|"q"/i);
    expect(await publishedKids()).toContain(signing[0].kid);
  });

  it('refuses to retire the current signing key (409 current_key) or an unknown one (404)', async () => {
    const { body } = await api('GET', '/keys');
    const current = body.find((key: { use: string; current: boolean }) => key.use === 'sig' && key.current);
    const response = await api('POST', `/keys/${current.kid}/retire`);
    expect(response.status).toBe(409);
    expect(response.body.error).toBe('current_key');
    const missing = await api('POST', '/keys/no-such-kid/retire');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('not_found');
    expect(await publishedKids()).toContain(current.kid);
  });

  it('rotates (201): the new key is published and signs; retiring the old one withdraws it', async () => {
    const oldKid = decodeProtectedHeader(adminToken).kid!;
    const rotated = await api('POST', '/keys/rotate');
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({ use: 'sig', alg: 'RS256', current: true, retiredAt: null });
    const newKid = rotated.body.kid as string;
    expect(newKid).not.toBe(oldKid);

    // The hub reloads its keys on the change notification.
    const kids = await eventually(publishedKids, (list) => list.includes(newKid));
    expect(kids).toEqual(expect.arrayContaining([newKid, oldKid]));
    const signedWith = await eventually(async () => {
      const tokens = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials' });
      return decodeProtectedHeader(tokens.body.access_token).kid;
    }, (kid) => kid === newKid);
    expect(signedWith).toBe(newKid);

    const listed = await api('GET', '/keys');
    const byKid = new Map(listed.body.map((key: { kid: string }) => [key.kid, key]));
    expect(byKid.get(newKid)).toMatchObject({ current: true });
    expect(byKid.get(oldKid)).toMatchObject({ current: false, retiredAt: null });

    // Tokens signed by the old key still work until it is retired.
    expect((await api('GET', '/keys')).status).toBe(200);
    const freshToken = await tokenFor(ADMIN);
    expect(decodeProtectedHeader(freshToken).kid).toBe(newKid);

    const retired = await api('POST', `/keys/${oldKid}/retire`, { token: freshToken });
    expect(retired.status).toBe(200);
    expect(retired.body).toMatchObject({ kid: oldKid });
    expect(retired.body.retiredAt).toBeTruthy();
    const withdrawn = await eventually(publishedKids, (list) => !list.includes(oldKid));
    expect(withdrawn).not.toContain(oldKid);
    expect(withdrawn).toContain(newKid);

    // The old key's tokens, the original admin token among them, stop verifying.
    const stale = await eventually(() => api('GET', '/keys', { token: adminToken }), (response) => response.status === 401);
    expect(stale.status).toBe(401);
    expect(stale.body.error).toBe('invalid_token');
    adminToken = freshToken;
    const again = await api('POST', `/keys/${oldKid}/retire`);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('already_retired');
  });
});
