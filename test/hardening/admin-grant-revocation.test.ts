// The admin API honours grant revocation as /me does (issue 8, item 7): an administrator's
// token stops working once their sign-in is revoked — "sign out everywhere" by a password
// change, or disable followed by enable — even though the token itself has not expired and the
// admin role is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { ProjectAccess } from '../../src/accounts/access.js';

const CONSOLE = { id: 'nexus-console', callback: 'http://localhost:3020/auth/callback' };
const PASSWORD = 'correct horse battery';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(() => t?.stop());

/** A new hub administrator's access token for the admin API, through the console's real sign-in. */
async function adminToken(email: string) {
  const user = await t.hub.users.create({ email, password: PASSWORD, emailVerified: true });
  await new ProjectAccess(t.hub.db.prisma).grant(user.id, CONSOLE.id, 'admin');
  return consoleToken(email);
}

async function consoleToken(email: string) {
  const login = await authorize(new Browser(t.url), { clientId: CONSOLE.id, redirectUri: CONSOLE.callback, email, password: PASSWORD, scope: 'openid admin' });
  const tokens = await postForm(t, '/token', CONSOLE.id, { grant_type: 'authorization_code', code: login.code!, code_verifier: login.verifier, redirect_uri: CONSOLE.callback });
  expect(tokens.status, tokens.text).toBe(200);
  return tokens.body.access_token as string;
}

async function admin(token: string, method = 'GET', path = '/clients', json?: unknown) {
  const response = await fetch(`${t.url}/api/admin${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(json ? { 'content-type': 'application/json' } : {}) }, body: json ? JSON.stringify(json) : undefined,
  });
  return { status: response.status, body: await response.json().catch(() => ({})) as Record<string, string>, challenge: response.headers.get('www-authenticate') };
}

describe('admin tokens after their grant is revoked', () => {
  it('a password change (sign out everywhere) ends the admin token at once, also under 8 parallel requests', async () => {
    const root = await adminToken('root@example.com');
    const token = await adminToken('pw@example.com');
    expect((await admin(token)).status).toBe(200);

    expect((await admin(root, 'POST', '/users/pw@example.com/password', { password: 'a brand new passphrase' })).status).toBe(200);
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => { release = resolve; });
    const calls = Array.from({ length: 8 }, async () => {
      await barrier;
      return admin(token);
    });
    release();
    for (const refused of await Promise.all(calls)) {
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_token');
      expect(refused.challenge).toContain('error="invalid_token"');
    }
    // The administrator who changed it is not affected.
    expect((await admin(root)).status).toBe(200);
  });

  it('disable then enable: the admin role is back, the old token is not', async () => {
    const root = await adminToken('root2@example.com');
    const token = await adminToken('cycled@example.com');
    expect((await admin(token)).status).toBe(200);
    expect((await admin(root, 'POST', '/users/cycled@example.com/disable')).status).toBe(200);
    expect((await admin(token)).status).toBe(401);
    expect((await admin(root, 'POST', '/users/cycled@example.com/enable')).status).toBe(200);
    expect((await admin(token))).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    // Signing in again gives a working token: the role itself was never lost.
    expect((await admin(await consoleToken('cycled@example.com'))).status).toBe(200);
  });
});
