// Several signing keys coexist: after a rotation the newest signs, the older one stays in the
// JWKS so its tokens keep verifying, and running hubs pick the change up without a restart.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { startTestHub, type TestHub } from './support/hub.js';
import { postForm } from './support/oauth.js';
import { publishChange } from '../src/db/changes.js';

let t: TestHub;
beforeAll(async () => { t = await startTestHub(); });
afterAll(() => t?.stop());

async function jwks(): Promise<JSONWebKeySet> {
  return (await fetch(`${t.url}/jwks`)).json();
}

async function waitFor(check: () => Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('condition not met in time');
}

it('rotates, keeps old tokens verifiable, and retires keys', async () => {
  const before = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials' });
  const oldKid = decodeProtectedHeader(before.body.access_token).kid!;

  const rotated = await t.hub.keys.rotate();
  await publishChange(t.hub.db.prisma, 'keys');
  await waitFor(async () => (await jwks()).keys.some((k) => k.kid === rotated.kid));

  const published = await jwks();
  expect(published.keys.map((k) => k.kid)).toEqual([rotated.kid, oldKid]);
  const after = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials' });
  expect(decodeProtectedHeader(after.body.access_token).kid).toBe(rotated.kid);
  await jwtVerify(before.body.access_token, createLocalJWKSet(published), { issuer: t.url });
  await jwtVerify(after.body.access_token, createLocalJWKSet(published), { issuer: t.url });

  await expect(t.hub.keys.retire(rotated.kid)).rejects.toThrow(/rotate/);
  await t.hub.keys.retire(oldKid);
  await publishChange(t.hub.db.prisma, 'keys');
  await waitFor(async () => !(await jwks()).keys.some((k) => k.kid === oldKid));
  await expect(jwtVerify(before.body.access_token, createLocalJWKSet(await jwks()), { issuer: t.url })).rejects.toThrow();
});
