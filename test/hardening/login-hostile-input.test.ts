// Hostile values on the login side answer 4xx or a safe redirect, never 500: the destination
// after the hub's own sign-in (/account/login?returnTo=), and NUL bytes or over-long values in
// the login and consent forms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser } from '../support/browser.js';
import { MANY_AUTHORIZATIONS, openLogin } from './login-support.js';

const PASSWORD = 'correct horse battery';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ ...MANY_AUTHORIZATIONS, LOGIN_MAX_FAILURES_PER_ACCOUNT: '5' });
  await t.hub.users.create({ email: 'ada@example.com', password: PASSWORD });
  await t.hub.users.create({ email: 'lin@example.com', password: PASSWORD });
});
afterAll(() => t?.stop());

/**
 * Starts the hub's own sign-in with this raw query, then returns from it: where the hub
 * sends the browser once signed in. (The state cookie carries the destination; the callback
 * needs only that cookie and the state, not a real sign-in.)
 */
async function destinationAfterSignIn(rawQuery: string) {
  const browser = new Browser(t.url);
  const start = await browser.get(`/account/login?${rawQuery}`);
  expect(start.status, await start.clone().text()).toBe(302);
  const state = new URL(start.headers.get('location')!, t.url).searchParams.get('state')!;
  const back = await browser.get(`/account/callback?state=${encodeURIComponent(state)}&code=unused`);
  expect(back.status).toBe(302);
  return back.headers.get('location');
}

describe('/account/login?returnTo=', () => {
  it.each([
    ['a character beyond Latin-1', 'returnTo=/%C4%80', '/%C4%80'],
    ['a semicolon', 'returnTo=/a;b', '/a;b'],
    ['a comma and a space', 'returnTo=/a,%20b', '/a,%20b'],
    ['an emoji and a query', `returnTo=${encodeURIComponent('/account?tab=😀')}`, '/account?tab=%F0%9F%98%80'],
  ])('keeps a path with %s', async (_, query, expected) => {
    expect(await destinationAfterSignIn(query)).toBe(expected);
  });

  it.each([
    ['a NUL byte', 'returnTo=/%00'],
    ['a very long path', `returnTo=/${'a'.repeat(5000)}`],
    ['another host', 'returnTo=//evil.example/'],
    ['a backslash trick', 'returnTo=/%5Cevil.example'],
    ['a tab trick', 'returnTo=/%09/evil.example'],
    ['an absolute URL', `returnTo=${encodeURIComponent('https://evil.example/')}`],
    ['a repeated parameter', 'returnTo=/a&returnTo=/b'],
  ])('sends %s to /account instead', async (_, query) => {
    expect(await destinationAfterSignIn(query)).toBe('/account');
  });

  it('keeps malformed percent-encoding on this site', async () => {
    expect(await destinationAfterSignIn('returnTo=/%E0%A4%A')).toMatch(/^\/(?![/\\])/);
  });
});

describe('login form', () => {
  it.each([
    ['a NUL byte in the email', { email: 'ada\u0000@example.com', password: PASSWORD }],
    ['a NUL byte in the password', { email: 'ada@example.com', password: `${PASSWORD}\u0000` }],
    ['an over-long email', { email: `${'a'.repeat(5000)}@example.com`, password: PASSWORD }],
    ['an over-long password', { email: 'nobody@example.com', password: 'p'.repeat(5000) }],
  ])('answers %s with 401', async (_, values) => {
    const form = await openLogin(t);
    expect((await form.submit(values)).status).toBe(401);
  });

  it('answers an oversized form with 413', async () => {
    const form = await openLogin(t);
    expect((await form.submit({ email: 'ada@example.com', password: 'x'.repeat(20_000) })).status).toBe(413);
  });

  it('signs in with a look-alike spelling of the address and counts its failures against the same account', async () => {
    const form = await openLogin(t);
    expect((await form.submit({ email: 'ＬＩＮ@example.com', password: PASSWORD })).status).toBe(303);
    for (const spelling of ['ＬＩＮ@example.com', 'LIN@EXAMPLE.COM', 'lin@ｅｘａｍｐｌｅ.com', 'Lin@Example.com', ' lin@example.com']) {
      expect((await (await openLogin(t)).submit({ email: spelling, password: 'not the password' })).status).toBe(401);
    }
    expect((await (await openLogin(t)).submit({ email: 'lin@example.com', password: PASSWORD })).status).toBe(429);
  });
});

describe('consent form', () => {
  it('refuses a NUL byte or an over-long value as the CSRF token with 403', async () => {
    const form = await openLogin(t);
    const consent = form.action.replace(/\/login$/, '/consent');
    for (const csrf of ['\u0000', 'x'.repeat(10_000)]) {
      expect((await form.browser.post(consent, { csrf })).status).toBe(403);
    }
  });
});
