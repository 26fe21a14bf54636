// PKCE per client: required by default, with errors (redirect, page and token JSON) that say how
// to fix the client; `pkce: optional` lets a confidential client without PKCE sign in through the
// real pages; a public client can never be made optional.
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser } from '../support/browser.js';
import { basicAuth, postForm } from '../support/oauth.js';
import { adminApi, adminToken } from '../support/admin-token.js';
import { expectFailure, nexus, nexusJson, waitFor } from '../cli/support.js';

const CALLBACK = 'http://localhost:3001/auth/callback';
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery';
const NO_PKCE = { code_challenge: '', code_challenge_method: '' };
const NEXT_AUTH_HINT = "checks: ['pkce', 'state']";

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
  await t.hub.users.create({ email: EMAIL, password: PASSWORD, fullName: 'Ada' });
});
afterAll(() => t?.stop());

/** An authorization request without PKCE, as a library without PKCE sends it. */
function authWithoutPkce(clientId: string, redirectUri?: string) {
  const params = new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', state: 'st4te', ...(redirectUri ? { redirect_uri: redirectUri } : {}) });
  return fetch(`${t.url}/auth?${params}`, { redirect: 'manual', headers: { accept: 'text/html' } });
}

const unescape = (html: string) => html.replaceAll('&#39;', "'").replaceAll('&#96;', '`').replaceAll('&#34;', '"');

describe('PKCE required (the default)', () => {
  it('sends a code request without code_challenge back with a description saying how to fix the client', async () => {
    const response = await authWithoutPkce('sales', CALLBACK);
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(CALLBACK);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    const description = location.searchParams.get('error_description')!;
    expect(description).toContain('This application must use PKCE (S256)');
    expect(description).toContain(NEXT_AUTH_HINT);
    expect(description).toContain('`nexus clients update sales --pkce optional` (weaker)');
    // RFC 6749 §5.2: error_description is printable ASCII without `"` and `\`.
    expect(description).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
  });

  it('never offers optional PKCE to a public client', async () => {
    const publicClient = new URL((await authWithoutPkce('testing', 'http://localhost:3010/auth/callback')).headers.get('location')!);
    expect(publicClient.searchParams.get('error')).toBe('invalid_request');
    const description = publicClient.searchParams.get('error_description')!;
    expect(description).toContain('This application must use PKCE (S256)');
    expect(description).toContain('A public client cannot do without PKCE');
    expect(description).not.toContain('--pkce optional');
  });

  it('answers a token request without the code_verifier of a PKCE code with JSON saying so', async () => {
    const signedIn = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: CALLBACK, scope: 'openid', email: EMAIL, password: PASSWORD });
    expect(signedIn.code).toBeTruthy();
    const refused = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: signedIn.code!, redirect_uri: CALLBACK });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused.body.error).toBe('invalid_grant');
    expect(refused.body.error_description).toContain('This application must use PKCE (S256)');
    expect(refused.body.error_description).toContain('must send its code_verifier');
    expect(refused.body.error_description).toContain(NEXT_AUTH_HINT);
    // The hub's error page, for a caller that asks for HTML, says the same.
    const page = await fetch(`${t.url}/token`, {
      method: 'POST',
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('sales', t.secrets.sales) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: signedIn.code!, redirect_uri: CALLBACK }),
    });
    expect(page.status).toBe(400);
    const html = unescape(await page.text());
    expect(html).toContain('<h1>This application must use PKCE</h1>');
    expect(html).toContain('must send its code_verifier');
    expect(html).toContain(NEXT_AUTH_HINT);
    // Other invalid grants keep oidc-provider's description.
    const replayed = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: 'not-a-code', code_verifier: signedIn.verifier, redirect_uri: CALLBACK });
    expect(replayed.body).toMatchObject({ error: 'invalid_grant', error_description: 'grant request is invalid' });
  });
});

describe('pkce: optional', () => {
  it('lets a confidential client complete the code flow without PKCE through the real login page', async () => {
    const updated = await nexusJson(t, 'clients', 'update', 'sales', '--pkce', 'optional');
    expect(updated.client).toMatchObject({ id: 'sales', pkce: 'optional' });
    const shown = await nexus(t, 'clients', 'show', 'sales');
    expect(shown.stdout).toContain('pkce:          optional (weaker: a code is protected by the secret alone)\n');
    // The running hub picks the change up (LISTEN/NOTIFY).
    await waitFor(async () => (await authWithoutPkce('sales', CALLBACK)).headers.get('location')?.includes('error=') === false, 'sales without PKCE accepted');

    const signedIn = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: CALLBACK, scope: 'openid email', email: EMAIL, password: PASSWORD, extra: NO_PKCE });
    expect(signedIn.returned.searchParams.get('error')).toBeNull();
    expect(signedIn.code).toBeTruthy();
    const tokens = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: signedIn.code!, redirect_uri: CALLBACK });
    expect(tokens.status, tokens.text).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', id_token: expect.any(String), access_token: expect.any(String) });

    // Optional is not "ignored": a code requested with a challenge still needs its verifier.
    const withPkce = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: CALLBACK, scope: 'openid', email: EMAIL, password: PASSWORD });
    const noVerifier = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: withPkce.code!, redirect_uri: CALLBACK });
    expect(noVerifier.body.error).toBe('invalid_grant');
    // Other clients still require it.
    expect(new URL((await authWithoutPkce('dream-people', 'http://localhost:3002/auth/callback')).headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it('is refused for a public client by the CLI (exit 1), the admin API (400) and clients.json', async () => {
    expectFailure(await nexus(t, 'clients', 'update', 'testing', '--pkce', 'optional'), 1, 'client "testing": a public client must use PKCE: pkce "optional" is only for confidential clients');
    expectFailure(await nexus(t, 'clients', 'add', '--id', 'kiosk', '--name', 'Kiosk', '--public', '--pkce', 'optional', '--redirect-uri', 'http://localhost:8765/cb'), 1, /a public client must use PKCE/);
    expectFailure(await nexus(t, 'clients', 'update', 'sales', '--pkce', 'sometimes'), 1, 'client "sales": pkce must be "required" or "optional"');

    const token = await adminToken(t);
    const patched = await adminApi(t, token, 'PATCH', '/clients/testing', { pkce: 'optional' });
    expect(patched).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata', error_description: expect.stringContaining('a public client must use PKCE') } });
    const created = await adminApi(t, token, 'POST', '/clients', { id: 'kiosk', name: 'Kiosk', public: true, pkce: 'optional', redirectUris: ['http://localhost:8765/cb'] });
    expect(created).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata' } });
    // A confidential one may, through the admin API too.
    const confidential = await adminApi(t, token, 'POST', '/clients', { id: 'legacy', name: 'Legacy', pkce: 'optional', redirectUris: ['https://legacy.example.com/cb'] });
    expect(confidential).toMatchObject({ status: 201, body: { client: { id: 'legacy', pkce: 'optional', public: false } } });

    const file = path.join(t.dataDir, 'clients-public-optional.json');
    await fs.writeFile(file, JSON.stringify({ clients: [{ id: 'kiosk', name: 'Kiosk', public: true, pkce: 'optional', redirectUris: ['http://localhost:8765/cb'] }] }));
    expectFailure(await nexus(t, 'clients', 'sync', '--file', file), 1, 'client "kiosk": a public client must use PKCE');
    expect((await t.hub.clients.get('testing')).pkce).toBe('required');
    await expect(t.hub.clients.get('kiosk')).rejects.toThrow('no client with id "kiosk"');
  });
});
