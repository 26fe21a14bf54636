// Codes and refresh tokens are single-use also under concurrency: of redemptions started at the
// same instant exactly one succeeds, and the others count as reuse (the grant is revoked). A
// refresh that is refused for a foreign resource leaves the refresh token unspent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { together } from './login-support.js';

const CALLBACK = 'http://localhost:3001/auth/callback';
const PASSWORD = 'correct horse battery';
const PARALLEL = 10;
let t: TestHub;

beforeAll(async () => {
  t = await startTestHub();
  await t.hub.users.create({ email: 'ada@example.com', password: PASSWORD });
  // The database pool opens connections on demand: on a cold pool the first of many parallel
  // requests runs far ahead of the others, which would hide the race this file is about.
  await Promise.all(Array.from({ length: PARALLEL }, () => t.hub.db.pool.query('SELECT pg_sleep(0.05)')));
  expect((await postForm(t, '/token', 'sales', await freshCode())).status).toBe(200);
});
afterAll(() => t?.stop());

async function freshCode() {
  const result = await authorize(new Browser(t.url), {
    clientId: 'sales', redirectUri: CALLBACK, email: 'ada@example.com', password: PASSWORD, scope: 'openid offline_access leads:read',
  });
  expect(result.code).toBeTruthy();
  return { grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: CALLBACK };
}

async function freshRefreshToken() {
  const tokens = await postForm(t, '/token', 'sales', await freshCode());
  expect(tokens.status).toBe(200);
  return tokens.body.refresh_token;
}

const refresh = (refreshToken: string, extra: Record<string, string> = {}) =>
  postForm(t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });

/** Exactly one redemption got tokens; every other one is reuse (400 invalid_grant). Returns the winner. */
function expectOneWinner(answers: Array<{ status: number; body: Record<string, string> }>) {
  const won = answers.filter((answer) => answer.status === 200);
  expect(won).toHaveLength(1);
  for (const lost of answers.filter((answer) => answer.status !== 200)) {
    expect(lost.status).toBe(400);
    expect(lost.body.error).toBe('invalid_grant');
  }
  return won[0];
}

describe('one authorization code redeemed many times at once', () => {
  it('gives tokens to exactly one redemption and revokes the grant for the others', async () => {
    const form = await freshCode();
    const answers = await together(Array.from({ length: PARALLEL }, () => () => postForm(t, '/token', 'sales', form)));
    const won = expectOneWinner(answers);
    // The reuse revoked the grant: the winner's refresh token is dead too.
    expect((await refresh(won.body.refresh_token)).body.error).toBe('invalid_grant');
  });
});

describe('one refresh token used many times at once', () => {
  it('rotates it for exactly one request; the reuse revokes the grant', async () => {
    const refreshToken = await freshRefreshToken();
    const answers = await together(Array.from({ length: PARALLEL }, () => () => refresh(refreshToken)));
    const won = expectOneWinner(answers);
    expect((await refresh(won.body.refresh_token)).body.error).toBe('invalid_grant');
  });
});

describe('a refresh for another project API', () => {
  it('is refused without spending the refresh token', async () => {
    const refreshToken = await freshRefreshToken();
    const foreign = await refresh(refreshToken, { resource: 'urn:nexus:dream-people' });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toBe('invalid_target');
    const normal = await refresh(refreshToken);
    expect(normal.status).toBe(200);
    expect(normal.body.refresh_token).toBeTruthy();
    expect((await refresh(normal.body.refresh_token)).status).toBe(200);
  });
});

describe('codes and tokens that cannot exist', () => {
  // A NUL byte reached PostgreSQL (which refuses it in text) and answered 500.
  const hostile = { 'a NUL byte': 'abc\u0000def', 'ten thousand characters': 'x'.repeat(10_000) };

  it.each(Object.entries(hostile))('answers %s at the token endpoints as not found', async (_name, value) => {
    const grants: Array<Record<string, string>> = [
      { grant_type: 'authorization_code', code: value, code_verifier: 'v'.repeat(43), redirect_uri: CALLBACK },
      { grant_type: 'refresh_token', refresh_token: value },
    ];
    for (const form of grants) {
      const answer = await postForm(t, '/token', 'sales', form);
      expect(answer.status, form.grant_type).toBe(400);
      expect(answer.body.error).toBe('invalid_grant');
    }
    const device = await postForm(t, '/token', 'agi-safety', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: value });
    expect(device.status).toBe(400);
    expect(device.body.error).toBe('invalid_grant');
    expect((await postForm(t, '/token/revocation', 'sales', { token: value })).status).toBe(200);
    const introspection = await postForm(t, '/token/introspection', 'sales', { token: value });
    expect(introspection.status).toBe(200);
    expect(introspection.body.active).toBe(false);
  });
});
