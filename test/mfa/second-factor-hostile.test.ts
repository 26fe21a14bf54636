// Hostile input on the second-factor routes, through a real hub: NUL bytes, huge and repeated
// fields, wrong types and methods, a foreign browser, open-redirect attempts on returnTo. Every
// answer is a 4xx (or the page), never a 5xx, and nothing is signed in or changed by them.
// Also the admin API face of reset-mfa.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm } from '../support/browser.js';
import { adminApi, adminToken } from '../support/admin-token.js';
import { createUser, page, signInToAccount } from '../billing/support.js';
import { enrol, secondFactorForm, startSignIn } from './totp-support.js';

let t: TestHub;

beforeAll(async () => {
  // Enough wrong-code budget is not needed: every hostile code below is refused before it counts,
  // or counts; the limit answers 429, which is fine too (never 5xx).
  t = await startTestHub({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '50' });
});
afterAll(() => t?.stop());

const HOSTILE_VALUES = ['\0', '12\u00003456', 'x'.repeat(15_000), '１２３４５６', '-1', '1e6', '123456'.repeat(3), '<script>', '%00', ' '];

async function postRaw(browser: Browser, path: string, body: string, contentType = 'application/x-www-form-urlencoded') {
  return browser.request(path, { method: 'POST', headers: { 'content-type': contentType, accept: 'text/html' }, body });
}

describe('POST /interaction/:uid/second-factor', () => {
  let browser: Browser;
  let action: string;
  let fields: Record<string, string>;

  beforeAll(async () => {
    await createUser(t, 'hostile@example.com');
    await enrol(t, 'hostile@example.com');
    const signIn = await startSignIn(t, 'sales', 'hostile@example.com');
    browser = signIn.browser;
    ({ action, fields } = secondFactorForm(signIn.page.body, 'totp'));
  });

  it('hostile codes and methods are refused with a 4xx, never signing in', async () => {
    for (const method of ['totp', 'recovery', 'passkey', '', '\0', 'x'.repeat(5000)]) {
      for (const code of HOSTILE_VALUES) {
        const answer = await browser.post(action, { ...fields, method, code });
        expect(answer.status, `${method.slice(0, 10)} ${code.slice(0, 10)}`).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
      }
    }
  });

  it('repeated fields, a body over the limit, JSON, a wrong CSRF token and the wrong method: 4xx', async () => {
    const base = new URLSearchParams(fields);
    const repeated = `${base}&code=123456&code=654321`;
    const twoMethods = `${base}&method=recovery&code=123456`;
    for (const body of [repeated, twoMethods, `${base}&code[]=1`, `${base}&code[a]=1`]) {
      const answer = await postRaw(browser, action, body);
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
    }
    expect((await postRaw(browser, action, `${base}&code=${'1'.repeat(20_000)}`)).status).toBe(413);
    expect((await postRaw(browser, action, JSON.stringify({ ...fields, code: '123456' }), 'application/json')).status).toBe(403);
    expect((await browser.post(action, { ...fields, csrf: 'forged', code: '123456' })).status).toBe(403);
    const wrongMethod = await browser.request(action, { method: 'PUT', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: base.toString() });
    expect(wrongMethod.status).toBeGreaterThanOrEqual(400);
    expect(wrongMethod.status).toBeLessThan(500);
  });

  it('another browser cannot use the interaction (its cookie binds it): 4xx', async () => {
    const stranger = new Browser(t.url);
    const answer = await stranger.post(action, { ...fields, code: '123456' });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
  });

  it('a fresh interaction with no verified password: 400, the code is never read', async () => {
    const fresh = new Browser(t.url);
    const login = await startSignIn(t, 'sales', 'nobody-here@example.com', { browser: fresh, password: 'wrong password' });
    const { fields: loginFields, action: loginAction } = parseForm(login.page.body, '/login');
    const answer = await fresh.post(loginAction.replace('/login', '/second-factor'), { csrf: loginFields.csrf, method: 'totp', code: '123456' });
    expect(answer.status).toBe(400);
  });
});

describe('/account/mfa forms', () => {
  it('hostile codes on confirm, new codes and disable: 4xx, nothing changes', async () => {
    const user = await createUser(t, 'hostile-account@example.com');
    const browser = new Browser(t.url);
    const enrolPage = await signInToAccount(browser, 'hostile-account@example.com', '/account/mfa');
    const { fields } = parseForm(enrolPage.body, '/account/mfa/confirm');
    for (const path of ['/account/mfa/confirm', '/account/mfa/recovery-codes', '/account/mfa/disable']) {
      for (const code of HOSTILE_VALUES) {
        const answer = await browser.post(path, { csrf: fields.csrf, code, returnTo: code });
        expect(answer.status, `${path} ${code.slice(0, 10)}`).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
      }
      const repeated = await postRaw(browser, path, `csrf=${encodeURIComponent(fields.csrf)}&code=1&code=2`);
      expect(repeated.status).toBeGreaterThanOrEqual(400);
      expect(repeated.status).toBeLessThan(500);
      expect((await postRaw(browser, path, `csrf=${encodeURIComponent(fields.csrf)}&code=${'1'.repeat(10_000)}`)).status).toBe(413);
    }
    expect((await t.hub.db.prisma.totpFactor.findUniqueOrThrow({ where: { userId: user.id } })).confirmedAt).toBeNull();
  });

  it('returnTo takes only a sign-in of this hub: no open redirect', async () => {
    await createUser(t, 'redirect@example.com');
    const browser = new Browser(t.url);
    await signInToAccount(browser, 'redirect@example.com', '/account/mfa');
    for (const returnTo of ['https://evil.example/x', '//evil.example', 'javascript:alert(1)', '/interaction/../account', '/interaction/a"><b>', '\0']) {
      const shown = await page(browser, `/account/mfa?returnTo=${encodeURIComponent(returnTo)}`);
      expect(shown.response.status).toBe(200);
      expect(shown.body).not.toContain('name="returnTo"');
    }
    const good = await page(browser, '/account/mfa?returnTo=%2Finteraction%2Fabc_DEF-1');
    expect(good.body).toContain('name="returnTo" value="/interaction/abc_DEF-1"');
  });

  it('signed out: the page redirects to sign-in, the forms answer 401', async () => {
    const anonymous = new Browser(t.url);
    const shown = await anonymous.get('/account/mfa');
    expect(shown.status).toBe(302);
    expect(shown.headers.get('location')).toMatch(/^\/account\/login\?returnTo=/);
    for (const path of ['/account/mfa/confirm', '/account/mfa/recovery-codes', '/account/mfa/disable']) {
      expect((await anonymous.post(path, { code: '123456' })).status).toBe(401);
    }
  });
});

describe('POST /api/admin/users/:email/reset-mfa', () => {
  it('resets a user, 404 for an unknown one, refuses without a token', async () => {
    const token = await adminToken(t);
    const user = await createUser(t, 'api-reset@example.com');
    await enrol(t, 'api-reset@example.com');
    const reset = await adminApi(t, token, 'POST', '/users/api-reset@example.com/reset-mfa');
    expect(reset.status).toBe(200);
    expect(reset.body).toEqual({ email: 'api-reset@example.com', totp: true, recoveryCodes: 10, passkeys: 0 });
    expect(await t.hub.db.prisma.totpFactor.count({ where: { userId: user.id } })).toBe(0);
    expect((await adminApi(t, token, 'POST', '/users/nobody@example.com/reset-mfa')).status).toBe(404);
    expect((await fetch(`${t.url}/api/admin/users/api-reset@example.com/reset-mfa`, { method: 'POST' })).status).toBe(401);
  });
});
