// The authorization endpoint is open to anyone and stores every request that needs a login: its
// requests are capped in size, the interactions one IP may start per minute are limited, and an
// interaction no one signed in to is kept for minutes, not an hour.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { pkcePair } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { together } from './login-support.js';
import { ANONYMOUS_TTL } from '../../src/oidc/provider.js';
import { AUTHORIZATION_LIMITS } from '../../src/oidc/authorization-guard.js';

const LIMIT = 5;
let t: TestHub;

beforeAll(async () => {
  t = await startTestHub({ AUTHORIZATIONS_PER_IP_PER_MINUTE: String(LIMIT) });
});
afterAll(() => t?.stop());

function authorizeUrl(extra: Record<string, string> = {}) {
  return `${t.url}/auth?${new URLSearchParams({
    client_id: 'sales', redirect_uri: 'http://localhost:3001/auth/callback', response_type: 'code', scope: 'openid',
    code_challenge: pkcePair().challenge, code_challenge_method: 'S256', ...extra,
  })}`;
}

const open = (url: string) => fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });

async function interactionRows() {
  const { rows } = await t.hub.db.pool.query(`SELECT count(*)::int AS n FROM oidc_payloads WHERE model = 'Interaction'`);
  return rows[0].n as number;
}

describe('request size', () => {
  it.each([
    ['state', { state: 's'.repeat(AUTHORIZATION_LIMITS.stateOrNonce + 1) }],
    ['nonce', { nonce: 'n'.repeat(AUTHORIZATION_LIMITS.stateOrNonce + 1) }],
    ['the whole query', { login_hint: 'h'.repeat(AUTHORIZATION_LIMITS.requestLength) }],
  ])('refuses an oversized %s with 400 and stores nothing', async (_name, extra) => {
    const before = await interactionRows();
    const answer = await open(authorizeUrl(extra));
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('too large');
    expect(await interactionRows()).toBe(before);
  });

  it('refuses an oversized POST body with 400, and a POST without a length with 411', async () => {
    const body = new URL(authorizeUrl({ state: 's'.repeat(AUTHORIZATION_LIMITS.requestLength) })).searchParams.toString();
    const answer = await fetch(`${t.url}/auth`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(answer.status).toBe(400);
    const stream = new ReadableStream({ start(controller) { controller.enqueue(new TextEncoder().encode(body)); controller.close(); } });
    const chunked = await fetch(`${t.url}/auth`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: stream, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(411);
  });

  it('applies to HEAD, which oidc-provider answers like a GET', async () => {
    const before = await interactionRows();
    const answer = await fetch(authorizeUrl({ state: 's'.repeat(AUTHORIZATION_LIMITS.stateOrNonce + 1) }), { method: 'HEAD', redirect: 'manual' });
    expect(answer.status).toBe(400);
    expect(await interactionRows()).toBe(before);
  });

  it('accepts state and nonce at the cap', async () => {
    const answer = await open(authorizeUrl({ state: 's'.repeat(AUTHORIZATION_LIMITS.stateOrNonce), nonce: 'n'.repeat(AUTHORIZATION_LIMITS.stateOrNonce) }));
    expect(answer.status).toBe(303);
  });
});

describe('NUL characters in parameters', () => {
  // PostgreSQL cannot store them in the interaction's jsonb: they answered 500.
  it.each(['state', 'nonce', 'login_hint', 'ui_locales', 'acr_values'])('in %s are refused without storing anything', async (name) => {
    const before = await interactionRows();
    const answer = await open(authorizeUrl({ [name]: 'a\u0000b' }));
    expect(answer.status).toBeGreaterThanOrEqual(300);
    expect(answer.status).toBeLessThan(500);
    // The request is invalid: the project is told so at its redirect URI.
    if (answer.status === 303) expect(new URL(answer.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    expect(await interactionRows()).toBe(before);
  });

  it('in a device authorization request are refused with 400', async () => {
    const answer = await postForm(t, '/device/auth', 'agi-safety', { scope: 'openid', login_hint: 'a\u0000b' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });
});

describe('an interaction no one has signed in to', () => {
  it(`expires after ${ANONYMOUS_TTL} seconds`, async () => {
    const answer = await open(authorizeUrl());
    expect(answer.status).toBe(303);
    const uid = answer.headers.get('location')!.split('/interaction/')[1];
    const { rows } = await t.hub.db.pool.query(
      `SELECT extract(epoch FROM expires_at - now())::int AS ttl FROM oidc_payloads WHERE model = 'Interaction' AND id = $1`, [uid],
    );
    expect(rows[0].ttl).toBeGreaterThan(ANONYMOUS_TTL - 30);
    expect(rows[0].ttl).toBeLessThanOrEqual(ANONYMOUS_TTL);
  });
});

describe('new interactions per IP', () => {
  it('are limited, under a burst too; refused requests do not count', async () => {
    // Invalid requests store nothing and give their point back.
    for (let i = 0; i < LIMIT + 2; i++) expect((await open(authorizeUrl({ client_id: 'no-such-client' }))).status).toBe(400);

    const started = await interactionRows();
    expect(started).toBeLessThan(LIMIT);
    const answers = await together(Array.from({ length: 12 }, () => () => open(authorizeUrl())));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 303)).toHaveLength(LIMIT - started);
    expect(statuses.filter((status) => status === 429)).toHaveLength(12 - (LIMIT - started));
    expect(await interactionRows()).toBe(LIMIT);

    const refused = answers.find((answer) => answer.status === 429)!;
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await refused.text()).toContain('Too many sign-in requests');
  });
});
