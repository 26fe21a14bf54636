// A hub administrator's admin API token, obtained as the admin console does: a user with the
// admin role in nexus-console signs in through the real pages (public client + PKCE).
import { expect } from 'vitest';
import { ProjectAccess } from '../../src/accounts/access.js';
import type { TestHub } from './hub.js';
import { authorize, Browser } from './browser.js';
import { postForm } from './oauth.js';

const CONSOLE = 'nexus-console';
const CONSOLE_CALLBACK = 'http://localhost:3020/auth/callback';

export async function adminToken(t: TestHub, email = 'root@example.com', password = 'correct horse battery'): Promise<string> {
  const user = await t.hub.users.create({ email, password, fullName: 'Root' });
  await new ProjectAccess(t.hub.db.prisma).grant(user.id, CONSOLE, 'admin');
  const signedIn = await authorize(new Browser(t.url), { clientId: CONSOLE, redirectUri: CONSOLE_CALLBACK, scope: 'openid admin', email, password });
  expect(signedIn.code, signedIn.body.slice(0, 300)).toBeTruthy();
  const tokens = await postForm(t, '/token', CONSOLE, {
    grant_type: 'authorization_code', code: signedIn.code!, code_verifier: signedIn.verifier, redirect_uri: CONSOLE_CALLBACK,
  });
  expect(tokens.status, tokens.text).toBe(200);
  return tokens.body.access_token;
}

/** Calls /api/admin with the token; answers status and parsed JSON. */
export async function adminApi(t: TestHub, token: string, method: string, path: string, json?: unknown) {
  const response = await fetch(`${t.url}/api/admin${path}`, {
    method,
    headers: { accept: 'application/json', authorization: `Bearer ${token}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as any };
}
