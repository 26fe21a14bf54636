// Everything that matters survives a restart: keys, sessions, grants, refresh tokens.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestHub, type TestHub } from './support/hub.js';
import { authorize, Browser, pkcePair } from './support/browser.js';
import { postForm } from './support/oauth.js';

let t: TestHub;
const CALLBACK = 'http://localhost:3001/auth/callback';

beforeAll(async () => {
  t = await startTestHub();
  await t.hub.users.create({ email: 'ada@example.com', password: 'correct horse battery' });
});
afterAll(() => t?.stop());

it('keeps the signed-in session, the refresh token and the signing keys across a restart', async () => {
  const browser = new Browser(t.url);
  const result = await authorize(browser, { clientId: 'sales', redirectUri: CALLBACK, email: 'ada@example.com', password: 'correct horse battery' });
  const tokens = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: CALLBACK });
  expect(tokens.status).toBe(200);
  const jwksBefore = await (await fetch(`${t.url}/jwks`)).json();

  await t.restart();

  expect(await (await fetch(`${t.url}/jwks`)).json()).toEqual(jwksBefore);
  // A token signed before the restart still verifies against the JWKS served after it.
  await jwtVerify(tokens.body.access_token, createRemoteJWKSet(new URL(`${t.url}/jwks`)), { issuer: t.url, audience: 'urn:nexus:sales' });

  // The browser's hub session is still there: no login page, straight back with a code.
  const { challenge, verifier } = pkcePair();
  const again = await browser.follow(await browser.get(`/auth?${new URLSearchParams({
    client_id: 'sales', redirect_uri: CALLBACK, response_type: 'code', scope: 'openid email', code_challenge: challenge, code_challenge_method: 'S256',
  })}`));
  const code = new URL(again.url).searchParams.get('code');
  expect(code).toBeTruthy();
  const second = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: code!, code_verifier: verifier, redirect_uri: CALLBACK });
  expect(second.status).toBe(200);

  const refreshed = await postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
  expect(refreshed.status).toBe(200);
  expect(refreshed.body.access_token).toBeTruthy();
});
