// RFC 8693 token exchange of Nexus API keys at POST /token. A project (the authenticated client)
// trades a user's key for a short-lived RS256 JWT for its own API. Exchanges run both from an
// independent Python client (urllib + authlib.jose, test/python/apikey_exchange.py) and from
// fetch, with tokens verified by jose against the published JWKS.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startTestHub, type TestHub } from './support/hub.js';
import { basicAuth } from './support/oauth.js';
import { ApiKeys } from '../src/accounts/api-keys.js';
import { ProjectAccess } from '../src/accounts/access.js';
import { GRANT_TYPES } from '../src/clients/definition.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('./python/apikey_exchange.py', import.meta.url));
// Debian's Python: the python3 first on PATH is another build without python3-authlib.
const PYTHON = '/usr/bin/python3';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TYPE = 'urn:nexus:params:oauth:token-type:api-key';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const PROJECT = 'agi-safety';
const AUDIENCE = 'urn:nexus:agi-safety';
const PASSWORD = 'correct horse battery';


let t: TestHub;
let jwks: ReturnType<typeof createRemoteJWKSet>;
let apiKeys: ApiKeys;
let access: ProjectAccess;
let owner: { id: string; email: string };

interface ExchangeOptions {
  clientId?: string;
  secret?: string;
  scope?: string;
  subjectTokenType?: string;
  extra?: Record<string, string>;
}

async function exchange(subjectToken: string, options: ExchangeOptions = {}) {
  const clientId = options.clientId ?? PROJECT;
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: options.subjectTokenType ?? API_KEY_TYPE,
    ...(options.scope ? { scope: options.scope } : {}),
    ...options.extra,
  });
  const response = await fetch(`${t.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, options.secret ?? t.secrets[clientId]) },
    body: form,
  });
  const body = (await response.json()) as Record<string, any>;
  return { status: response.status, body, headers: response.headers };
}

interface PythonResult {
  code: number;
  json: Record<string, any>;
  stderr: string;
}

/** Runs the Python client; exit 0 (token) and 3 (OAuth refusal) both print one JSON object. */
async function python(key: string, options: { clientId?: string; secret?: string; scope?: string; audience?: string; subjectTokenType?: string } = {}): Promise<PythonResult> {
  const clientId = options.clientId ?? PROJECT;
  // `--name=value`: a random secret or key may begin with '-', which argparse would take for an option.
  const args = [SCRIPT, `--issuer=${t.url}`, `--client-id=${clientId}`, `--client-secret=${options.secret ?? t.secrets[clientId]}`, `--api-key=${key}`];
  if (options.scope) args.push(`--scope=${options.scope}`);
  if (options.audience) args.push(`--audience=${options.audience}`);
  if (options.subjectTokenType) args.push(`--subject-token-type=${options.subjectTokenType}`);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  try {
    const { stdout, stderr } = await run(PYTHON, args, { env, timeout: 30_000 });
    return { code: 0, json: JSON.parse(stdout), stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
    if (code === 3) return { code, json: JSON.parse(stdout ?? ''), stderr: stderr ?? '' };
    return { code: typeof code === 'number' ? code : -1, json: {}, stderr: `${stderr ?? ''}${stdout ?? ''}` };
  }
}

async function newKey(options: { userId?: string; rateLimit?: number; expiresIn?: string; env?: 'live' | 'test' } = {}) {
  return apiKeys.create({
    userId: options.userId ?? owner.id, name: `key ${randomBytes(3).toString('hex')}`, env: options.env ?? 'live',
    rateLimit: options.rateLimit, expiresIn: options.expiresIn,
  });
}

async function newUser(prefix: string) {
  return t.hub.users.create({ email: `${prefix}-${randomBytes(3).toString('hex')}@example.com`, password: PASSWORD });
}

function expectRefusal(result: { status: number; body: Record<string, any> }, status: number, error: string) {
  expect(result.status, JSON.stringify(result.body)).toBe(status);
  expect(result.body.error, JSON.stringify(result.body)).toBe(error);
  expect(result.body).not.toHaveProperty('access_token');
}

beforeAll(async () => {
  t = await startTestHub();
  jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
  apiKeys = new ApiKeys(t.hub.db.prisma);
  access = new ProjectAccess(t.hub.db.prisma);
  owner = await t.hub.users.create({ email: 'katherine@example.com', password: PASSWORD, fullName: 'Katherine Johnson' });
});
afterAll(() => t?.stop());

describe('the Python client', () => {
  it('runs on Debian python with Authlib importable', async () => {
    const { stdout } = await run(PYTHON, ['-c', 'import authlib, authlib.jose; print(authlib.__version__)']);
    expect(stdout.trim()).toMatch(/^\d+\.\d+/);
  });

  it('fails with exit 1 and a clear message on bad usage', async () => {
    const failure = await run(PYTHON, [SCRIPT, '--issuer', t.url], { env: { PATH: '/usr/bin:/bin' } }).then(() => null, (error: unknown) => error);
    expect(failure).not.toBeNull();
    const { code, stderr } = failure as { code: number; stderr: string };
    expect(code).toBe(1);
    expect(stderr).toContain('apikey_exchange.py: FAILED');
    expect(stderr).toContain('--client-id');
  });
});

describe('client authentication', () => {
  it('refuses a wrong project secret with 401 invalid_client (exit 3 from Python)', async () => {
    const { key } = await newKey();
    const result = await python(key, { secret: 'not-the-secret' });
    expect(result.code, result.stderr).toBe(3);
    expect(result.json).toMatchObject({ error: 'invalid_client', status: 401 });
    expectRefusal(await exchange(key, { secret: 'not-the-secret' }), 401, 'invalid_client');
    expect((await apiKeys.list(owner.id)).find((info) => info.prefix === key.slice(0, 13))?.lastUsedAt).toBeNull();
  });

  it('refuses an exchange without client authentication, and by a public client', async () => {
    const { key } = await newKey();
    const anonymous = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: key, subject_token_type: API_KEY_TYPE }),
    });
    expect([400, 401]).toContain(anonymous.status);
    expect(['invalid_client', 'invalid_request']).toContain(((await anonymous.json()) as { error: string }).error);

    // A public client cannot authenticate, so it cannot speak for a project.
    const publicClient = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: key, subject_token_type: API_KEY_TYPE, client_id: 'testing' }),
    });
    expect([400, 401]).toContain(publicClient.status);
    const body = (await publicClient.json()) as Record<string, unknown>;
    expect(body).not.toHaveProperty('access_token');
    expect(['unauthorized_client', 'invalid_client', 'invalid_request']).toContain(body.error);
    expect((await apiKeys.list(owner.id)).every((info) => info.lastUsedAt === null)).toBe(true);
  });
});

describe('exchanging a valid key', () => {
  it('issues an RS256 at+jwt for the project API with the owner as subject (Python + jose)', async () => {
    const { key, info } = await newKey();
    expect(info.lastUsedAt).toBeNull();
    const before = Date.now();
    const result = await python(key, { scope: 'research:read' });
    expect(result.code, result.stderr).toBe(0);

    const report = result.json;
    expect(report).toMatchObject({
      status: 200, token_type: 'Bearer', issued_token_type: ACCESS_TOKEN_TYPE, scope: 'research:read', has_refresh_token: false, has_id_token: false,
    });
    expect(report.expires_in).toBeGreaterThan(0);
    expect(report.header).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(report.claims).toMatchObject({
      iss: t.url, aud: AUDIENCE, sub: owner.id, email: owner.email, role: 'user', client_id: PROJECT, scope: 'research:read',
    });
    expect(report.claims.exp - report.claims.iat).toBe(report.expires_in);
    expect(report.claims.jti).toBeTruthy();

    // The same token, checked independently by jose against the JWKS.
    const { payload, protectedHeader } = await jwtVerify(report.access_token, jwks, {
      issuer: t.url, audience: AUDIENCE, algorithms: ['RS256'], typ: 'at+jwt',
    });
    expect(protectedHeader.kid).toBe(report.header.kid);
    expect(payload).toMatchObject({ sub: owner.id, email: owner.email, role: 'user', client_id: PROJECT, scope: 'research:read' });
    // Nothing of the key itself travels in the token.
    expect(JSON.stringify(payload)).not.toContain(key.slice(9));

    // The key's last use is recorded.
    const listed = (await apiKeys.list(owner.id)).find((entry) => entry.id === info.id)!;
    expect(listed.lastUsedAt).not.toBeNull();
    expect(listed.lastUsedAt!.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(listed.lastUsedAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
    const row = await t.hub.db.prisma.apiKey.findUniqueOrThrow({ where: { id: info.id } });
    expect(row.lastUsedAt?.getTime()).toBe(listed.lastUsedAt!.getTime());
  });

  it('is verified for real: the Python client rejects the token for another audience', async () => {
    const { key } = await newKey();
    const result = await python(key, { audience: 'urn:nexus:sales' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/apikey_exchange\.py: FAILED: InvalidClaimError: .*aud/);
  });

  it('works with test keys and over plain fetch, with the response RFC 8693 describes', async () => {
    const { key } = await newKey({ env: 'test' });
    expect(key.startsWith('nxk_test_')).toBe(true);
    const result = await exchange(key, { scope: 'research:write' });
    expect(result.status).toBe(200);
    expect(result.headers.get('cache-control')).toContain('no-store');
    expect(result.body).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', scope: 'research:write' });
    expect(typeof result.body.expires_in).toBe('number');
    expect(result.body).not.toHaveProperty('refresh_token');
    expect(result.body).not.toHaveProperty('id_token');
    expect(decodeProtectedHeader(result.body.access_token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    const { payload } = await jwtVerify(result.body.access_token, jwks, { issuer: t.url, audience: AUDIENCE, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: owner.id, client_id: PROJECT, scope: 'research:write' });
  });

  it('leaves out scopes the project does not define, and grants all of its scopes when none is asked', async () => {
    const { key } = await newKey();
    const mixed = await python(key, { scope: 'research:read leads:write admin made:up' });
    expect(mixed.code, mixed.stderr).toBe(0);
    expect(mixed.json.scope).toBe('research:read');
    expect(mixed.json.claims.scope).toBe('research:read');

    const none = await exchange(key);
    expect(none.status).toBe(200);
    const { payload } = await jwtVerify(none.body.access_token, jwks, { issuer: t.url, audience: AUDIENCE });
    expect(String(payload.scope).split(' ').sort()).toEqual(['research:read', 'research:write']);

    // Only foreign scopes: a token without any scope, never one with another project's.
    const foreign = await exchange(key, { scope: 'leads:read leads:write' });
    expect(foreign.status).toBe(200);
    const foreignToken = await jwtVerify(foreign.body.access_token, jwks, { issuer: t.url, audience: AUDIENCE });
    expect(foreignToken.payload.scope ?? '').not.toMatch(/leads/);
    expect(foreign.body.scope ?? '').not.toMatch(/leads/);
  });

  it('refuses a token for another project API (invalid_target)', async () => {
    const { key } = await newKey();
    expectRefusal(await exchange(key, { extra: { resource: 'urn:nexus:sales' } }), 400, 'invalid_target');
    expectRefusal(await exchange(key, { extra: { audience: 'urn:nexus:hub' } }), 400, 'invalid_target');
  });
});

describe('refused keys', () => {
  it('refuses a revoked key with invalid_grant', async () => {
    const { key, info } = await newKey();
    expect((await exchange(key)).status).toBe(200);
    await apiKeys.revoke(info.id);
    const result = await python(key);
    expect(result.code, result.stderr).toBe(3);
    expect(result.json).toMatchObject({ error: 'invalid_grant', status: 400 });
    expectRefusal(await exchange(key), 400, 'invalid_grant');
  });

  it('refuses an expired key with invalid_grant', async () => {
    const { key, info } = await newKey({ expiresIn: '1h' });
    expect((await exchange(key)).status).toBe(200);
    await t.hub.db.prisma.apiKey.update({ where: { id: info.id }, data: { expiresAt: new Date(Date.now() - 60_000) } });
    const result = await python(key);
    expect(result.code, result.stderr).toBe(3);
    expect(result.json).toMatchObject({ error: 'invalid_grant', status: 400 });
  });

  it('refuses malformed and unknown keys with invalid_grant', async () => {
    const { key } = await newKey();
    const candidates = [
      'not-a-key',
      'nxk_live_short',
      `nxk_prod_${key.slice(9)}`,
      `${key}x`,
      ` ${key}`,
      key.toUpperCase(),
      `nxk_live_${randomBytes(32).toString('base64url')}`, // well-formed, never issued
    ];
    for (const candidate of candidates) expectRefusal(await exchange(candidate), 400, 'invalid_grant');
    const result = await python('nxk_live_short');
    expect(result.code, result.stderr).toBe(3);
    expect(result.json).toMatchObject({ error: 'invalid_grant', status: 400 });
  });

  it('refuses a wrong subject_token_type or requested_token_type with invalid_request', async () => {
    const { key, info } = await newKey();
    for (const type of [ACCESS_TOKEN_TYPE, 'urn:ietf:params:oauth:token-type:jwt', 'api-key']) {
      expectRefusal(await exchange(key, { subjectTokenType: type }), 400, 'invalid_request');
    }
    const result = await python(key, { subjectTokenType: ACCESS_TOKEN_TYPE });
    expect(result.code, result.stderr).toBe(3);
    expect(result.json).toMatchObject({ error: 'invalid_request', status: 400 });
    expectRefusal(await exchange(key, { extra: { requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' } }), 400, 'invalid_request');

    const missing = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(PROJECT, t.secrets[PROJECT]) },
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token_type: API_KEY_TYPE }),
    });
    expectRefusal({ status: missing.status, body: (await missing.json()) as Record<string, any> }, 400, 'invalid_request');
    // None of these got as far as using the key.
    expect((await apiKeys.list(owner.id)).find((entry) => entry.id === info.id)!.lastUsedAt).toBeNull();
  });

  it('refuses the key of a disabled user with invalid_grant, and accepts it again once enabled', async () => {
    const user = await newUser('disabled');
    const { key } = await newKey({ userId: user.id });
    expect((await exchange(key)).status).toBe(200);
    await t.hub.users.disable(user.email);
    const result = await python(key);
    expect(result.code, result.stderr).toBe(3);
    expect(result.json).toMatchObject({ error: 'invalid_grant', status: 400 });
    await t.hub.users.enable(user.email);
    expect((await exchange(key)).status).toBe(200);
  });

  it('refuses the key of a deleted user (its keys go with it)', async () => {
    const user = await newUser('deleted');
    const { key } = await newKey({ userId: user.id });
    await t.hub.users.delete(user.email);
    expectRefusal(await exchange(key), 400, 'invalid_grant');
  });

  it('enforces the per-key rate limit: the 3rd exchange in a minute gets 429 slow_down with Retry-After', async () => {
    const { key } = await newKey({ rateLimit: 2 });
    expect((await exchange(key)).status).toBe(200);
    expect((await exchange(key)).status).toBe(200);

    const third = await exchange(key);
    expectRefusal(third, 429, 'slow_down');
    const retryAfter = Number(third.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    const fourth = await python(key);
    expect(fourth.code, fourth.stderr).toBe(3);
    expect(fourth.json).toMatchObject({ error: 'slow_down', status: 429 });
    expect(fourth.json.retry_after).toBeGreaterThanOrEqual(1);

    // The limit is per key: another key of the same owner, and an unlimited one, are unaffected.
    const other = await newKey({ rateLimit: 2 });
    expect((await exchange(other.key)).status).toBe(200);
    const unlimited = await newKey();
    for (let i = 0; i < 5; i++) expect((await exchange(unlimited.key)).status).toBe(200);
  });

  it('refuses a key whose owner has no access to a granted project, until access is granted', async () => {
    const grantTypes: string[] = ['client_credentials'];
    // If token exchange becomes a grant type clients list explicitly, this project lists it.
    if ((GRANT_TYPES as readonly string[]).includes(TOKEN_EXCHANGE)) grantTypes.push(TOKEN_EXCHANGE);
    const { secret } = await t.hub.clients.add({
      id: 'lab', name: 'Restricted Lab', grantTypes, access: 'granted', defaultRole: 'read_only', scopes: ['lab:run'],
    });
    expect(secret).toBeTruthy();
    const { key, info } = await newKey();

    const refused = await exchange(key, { clientId: 'lab', secret: secret! });
    expectRefusal(refused, 400, 'invalid_grant');
    const viaPython = await python(key, { clientId: 'lab', secret: secret! });
    expect(viaPython.code, viaPython.stderr).toBe(3);
    expect(viaPython.json).toMatchObject({ error: 'invalid_grant', status: 400 });

    await access.grant(owner.id, 'lab', 'admin');
    const granted = await python(key, { clientId: 'lab', secret: secret!, scope: 'lab:run' });
    expect(granted.code, granted.stderr).toBe(0);
    expect(granted.json.claims).toMatchObject({ aud: 'urn:nexus:lab', sub: owner.id, role: 'admin', client_id: 'lab', scope: 'lab:run' });
    expect((await apiKeys.list(owner.id)).find((entry) => entry.id === info.id)!.lastUsedAt).not.toBeNull();

    await access.revoke(owner.id, 'lab');
    expectRefusal(await exchange(key, { clientId: 'lab', secret: secret! }), 400, 'invalid_grant');
  });
});
