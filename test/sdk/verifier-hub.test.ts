// The SDK verifier against a real hub: its client-credentials and user access tokens become
// Principals; key rotation and retirement at the hub reach the SDK's key cache.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeProtectedHeader } from 'jose';
import { createVerifier } from '@nexus/auth';
import { publishChange } from '../../src/db/changes.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { postForm } from '../support/oauth.js';
import { authorize, Browser } from '../support/browser.js';
import { expectAuthError, sleep } from './helpers.js';

const SALES_CALLBACK = 'http://localhost:3001/auth/callback';
const EMAIL = 'grace@example.com';
const PASSWORD = 'compilers all the way down';

let t: TestHub;
let userId: string;

beforeAll(async () => {
  t = await startTestHub();
  userId = (await t.hub.users.create({ email: EMAIL, password: PASSWORD, fullName: 'Grace Hopper' })).id;
});
afterAll(() => t?.stop());

async function clientToken(scope = 'leads:read') {
  const response = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials', scope });
  expect(response.status).toBe(200);
  return response.body.access_token;
}

async function userTokens() {
  const result = await authorize(new Browser(t.url), {
    clientId: 'sales', redirectUri: SALES_CALLBACK, email: EMAIL, password: PASSWORD, scope: 'openid email offline_access leads:read',
  });
  expect(result.code).toBeTruthy();
  const tokens = await postForm(t, '/token', 'sales', {
    grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: SALES_CALLBACK,
  });
  expect(tokens.status).toBe(200);
  return tokens.body;
}

/** A verifier on the hub whose JWKS requests are counted. */
function countingVerifier(audience = 'urn:nexus:sales', cooldownMs?: number) {
  const counter = { jwks: 0 };
  const verifier = createVerifier({
    issuer: t.url, audience,
    jwks: { cooldownMs, fetch: ((input: string | URL | Request, init?: RequestInit) => { counter.jwks++; return fetch(input, init); }) as typeof fetch },
  });
  return { verifier, counter };
}

describe('hub tokens', () => {
  it('a client-credentials token becomes a Principal of the client itself', async () => {
    const { verifier, counter } = countingVerifier();
    const principal = await verifier.verify(await clientToken('leads:read leads:write'));
    expect(principal).toMatchObject({
      sub: 'sales', clientId: 'sales', isUser: false, scopes: ['leads:read', 'leads:write'], email: undefined, role: undefined,
    });
    expect(principal.claims).toMatchObject({ iss: t.url, aud: 'urn:nexus:sales' });
    for (let i = 0; i < 20; i++) await verifier.verify(await clientToken());
    expect(counter.jwks).toBe(1);
  });

  it("a user's token (authorization code) carries sub, email, role and the granted API scopes", async () => {
    const tokens = await userTokens();
    const { verifier } = countingVerifier();
    const principal = await verifier.verify(tokens.access_token);
    expect(principal).toMatchObject({ sub: userId, email: EMAIL, role: 'user', clientId: 'sales', isUser: true });
    expect(principal.scopes).toContain('leads:read');
    expect(principal.scopes).not.toContain('leads:write');

    // The refreshed access token too.
    const refreshed = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    await expect(verifier.verify(refreshed.body.access_token)).resolves.toMatchObject({ sub: userId, email: EMAIL });

    // The ID token is not an access token (typ JWT, aud = client id).
    await expectAuthError(verifier.verify(tokens.id_token), 'invalid_token', 401, /typ|aud/);
  });

  it("refuses another project's audience and another issuer spelling", async () => {
    const token = await clientToken();
    await expectAuthError(countingVerifier('urn:nexus:dream-people').verifier.verify(token), 'invalid_token', 401, /aud claim/);
    // The keys still come from the hub itself: it answers only at its issuer's address.
    const other = createVerifier({ issuer: t.url.replace('localhost', '127.0.0.1'), audience: 'urn:nexus:sales', jwksUri: `${t.url}/jwks` });
    await expectAuthError(other.verify(token), 'invalid_token', 401, /iss claim/);
  });
});

async function jwksKids(): Promise<string[]> {
  return ((await (await fetch(`${t.url}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
}

describe('key rotation at the hub', () => {
  it('a rotated key is fetched after the cooldown; a retired key stops verifying after a refresh', async () => {
    const COOLDOWN = 1000;
    const { verifier, counter } = countingVerifier('urn:nexus:sales', COOLDOWN);
    const before = await clientToken();
    const oldKid = decodeProtectedHeader(before).kid!;
    await verifier.verify(before);
    expect(counter.jwks).toBe(1);

    const rotated = await t.hub.keys.rotate();
    await publishChange(t.hub.db.prisma, 'keys');
    await vi.waitFor(async () => expect(await jwksKids()).toContain(rotated.kid), { timeout: 10_000, interval: 100 });
    const after = await clientToken();
    expect(decodeProtectedHeader(after).kid).toBe(rotated.kid);

    await sleep(COOLDOWN + 100);
    await expect(verifier.verify(after)).resolves.toMatchObject({ sub: 'sales' });
    await expect(verifier.verify(before)).resolves.toMatchObject({ sub: 'sales' }); // old key still published
    expect(counter.jwks).toBe(2);

    await t.hub.keys.retire(oldKid);
    await publishChange(t.hub.db.prisma, 'keys');
    await vi.waitFor(async () => expect(await jwksKids()).not.toContain(oldKid), { timeout: 10_000, interval: 100 });
    // Held keys keep working until the SDK refreshes...
    await expect(verifier.verify(before)).resolves.toBeTruthy();
    await sleep(COOLDOWN + 100);
    await verifier.keys.refresh();
    expect(counter.jwks).toBe(3);
    // ...after which the retired key's tokens are refused; the new key's still verify.
    await expectAuthError(verifier.verify(before), 'invalid_token', 401, new RegExp(`no key with kid ${oldKid}`));
    await expect(verifier.verify(after)).resolves.toBeTruthy();
  });
});
