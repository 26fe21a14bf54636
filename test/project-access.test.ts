// Project access control end to end through the real login pages: granted projects admit only
// users with a grant, tokens carry the role, a revoke bites at the next refresh, and disabling a
// user ends everything at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestHub, type TestHub } from './support/hub.js';
import { authorize, Browser, parseForm } from './support/browser.js';
import { postForm } from './support/oauth.js';
import { ProjectAccess } from '../src/accounts/access.js';

let t: TestHub;
let access: ProjectAccess;
let jwks: ReturnType<typeof createRemoteJWKSet>;
const PASSWORD = 'correct horse battery';
// A project only granted users may use (sales is open in clients.json; this one is not).
const PROJECT = { id: 'vault', callback: 'http://localhost:3030/auth/callback', audience: 'urn:nexus:vault' };
let vaultSecret: string;

beforeAll(async () => {
  t = await startTestHub();
  jwks = createRemoteJWKSet(new URL(`${t.url}/jwks`));
  access = new ProjectAccess(t.hub.db.prisma);
  const { secret } = await t.hub.clients.add({
    id: PROJECT.id, name: 'Vault', redirectUris: [PROJECT.callback], grantTypes: ['authorization_code', 'refresh_token'],
    firstParty: true, audience: PROJECT.audience, scopes: ['vault:read'], access: 'granted',
  });
  vaultSecret = secret!;
  for (const email of ['granted@example.com', 'outsider@example.com', 'leaver@example.com']) {
    await t.hub.users.create({ email, password: PASSWORD });
  }
});
afterAll(() => t?.stop());

async function token(form: Record<string, string>) {
  const response = await fetch(`${t.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${PROJECT.id}:${vaultSecret}`).toString('base64')}` },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: await response.json() };
}

async function signIn(email: string, browser = new Browser(t.url)) {
  const result = await authorize(browser, { clientId: PROJECT.id, redirectUri: PROJECT.callback, email, password: PASSWORD, scope: 'openid email offline_access vault:read' });
  return { browser, result };
}

describe('a project with access "granted"', () => {
  it('shows "no access" to a user without a grant and returns access_denied to the project', async () => {
    const { browser, result } = await signIn('outsider@example.com');
    expect(result.response.status).toBe(403);
    expect(result.body).toContain('access to Vault');
    expect(result.code).toBeNull();
    const back = result.body.match(/href="(\/interaction\/[^"]+\/abort)"/)![1];
    const page = await browser.follow(await browser.get(back));
    const returned = new URL(page.url);
    expect(returned.origin + returned.pathname).toBe(PROJECT.callback);
    expect(returned.searchParams.get('error')).toBe('access_denied');
  });

  it('answers prompt=none for a user without access with access_denied', async () => {
    const { browser } = await signIn('outsider@example.com');
    const response = await browser.get(`/auth?${new URLSearchParams({
      client_id: PROJECT.id, redirect_uri: PROJECT.callback, response_type: 'code', scope: 'openid', prompt: 'none',
      code_challenge: 'a'.repeat(43), code_challenge_method: 'S256',
    })}`);
    const page = await browser.follow(response);
    expect(new URL(page.url).searchParams.get('error')).toBe('access_denied');
  });

  it('admits a granted user with their role in the token; a revoke stops the next refresh', async () => {
    const user = await t.hub.users.findByEmail('granted@example.com');
    await access.grant(user!.id, PROJECT.id, 'read_only');
    const { result } = await signIn('granted@example.com');
    expect(result.code).toBeTruthy();
    const tokens = await token({ grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: PROJECT.callback });
    expect(tokens.status).toBe(200);
    const { payload } = await jwtVerify(tokens.body.access_token, jwks, { issuer: t.url, audience: PROJECT.audience });
    expect(payload).toMatchObject({ role: 'read_only', scope: 'vault:read', email: 'granted@example.com' });

    await access.grant(user!.id, PROJECT.id, 'admin');
    const promoted = await token({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    expect(promoted.status).toBe(200);
    expect((await jwtVerify(promoted.body.access_token, jwks, { issuer: t.url })).payload.role).toBe('admin');

    await access.revoke(user!.id, PROJECT.id);
    const refused = await token({ grant_type: 'refresh_token', refresh_token: promoted.body.refresh_token });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
  });
});

describe('disabling a user', () => {
  it('ends their sessions and revokes their refresh tokens at once', async () => {
    const result = await authorize(new Browser(t.url), {
      clientId: 'sales', redirectUri: 'http://localhost:3001/auth/callback', email: 'leaver@example.com', password: PASSWORD,
    });
    const tokens = await postForm(t, '/token', 'sales', {
      grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: 'http://localhost:3001/auth/callback',
    });
    expect(tokens.status).toBe(200);
    const { rowCount: before } = await t.hub.db.pool.query(`SELECT 1 FROM oidc_payloads p JOIN users u ON u.id::text = p.account_id WHERE u.email = 'leaver@example.com'`);
    expect(before).toBeGreaterThan(0);

    await t.hub.users.disable('leaver@example.com');

    const { rowCount: after } = await t.hub.db.pool.query(`SELECT 1 FROM oidc_payloads p JOIN users u ON u.id::text = p.account_id WHERE u.email = 'leaver@example.com'`);
    expect(after).toBe(0);
    const refresh = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    expect(refresh.body.error).toBe('invalid_grant');

    // And the login page no longer lets them in.
    const fresh = new Browser(t.url);
    const page = await fresh.follow(await fresh.get(`/auth?${new URLSearchParams({
      client_id: 'sales', redirect_uri: 'http://localhost:3001/auth/callback', response_type: 'code', scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256',
    })}`));
    const form = parseForm(page.body, '/login');
    const login = await fresh.post(form.action, { ...form.fields, email: 'leaver@example.com', password: PASSWORD });
    expect(login.status).toBe(401);
  });
});

describe('a plan-governed project (liminal: pro and above)', () => {
  it('gives staff admitted by an administrator the project scopes, even on the free plan', async () => {
    await t.hub.users.create({ email: 'staff@example.com', password: PASSWORD });
    const staff = await t.hub.users.findByEmail('staff@example.com');
    const callback = 'http://localhost:3003/auth/callback';
    const signInLiminal = () => authorize(new Browser(t.url), {
      clientId: 'liminal', redirectUri: callback, email: 'staff@example.com', password: PASSWORD, scope: 'openid liminal:read liminal:write',
    });

    // Free plan, no grant: liminal is not for them.
    expect((await signInLiminal()).response.status).toBe(403);

    await access.grant(staff!.id, 'liminal', 'user');
    const result = await signInLiminal();
    const tokens = await postForm(t, '/token', 'liminal', {
      grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: callback,
    });
    const { payload } = await jwtVerify(tokens.body.access_token, jwks, { issuer: t.url, audience: 'urn:nexus:liminal' });
    expect(payload).toMatchObject({ plan: 'free', role: 'user', scope: 'liminal:read liminal:write', entitlements: {} });
  });
});
