// Changing the password on the account center's security page through a real hub: the current
// password is asked and a wrong one counts like a failed login (the same limit locks the login
// page), the new one follows the sign-up rules, a change signs every other browser out and
// revokes their refresh tokens while this browser keeps its own, user.password_changed carries
// no secret, and of 8 parallel changes exactly one wins.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser, parseForm } from '../support/browser.js';
import { together } from '../gateway/support.js';
import { createUser, eventRows, page, PASSWORD, refresh, signIn, signInToAccount, textOf } from '../billing/support.js';

const NEW_PASSWORD = 'a new and longer passphrase';
let t: TestHub;

beforeAll(async () => {
  t = await startTestHub({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '5' });
});
afterAll(() => t?.stop());

/** A browser signed in to sales (with a refresh token) and to the account center. */
async function signedIn(email: string) {
  const browser = new Browser(t.url);
  const { tokens } = await signIn(t, 'sales', email, { browser });
  await signInToAccount(browser, email, '/account/security');
  return { browser, refreshToken: tokens.refresh_token };
}

async function change(browser: Browser, current: string, password: string) {
  const { fields } = parseForm((await page(browser, '/account/security')).body, '/account/password');
  return browser.post('/account/password', { ...fields, current, password });
}

const errorOf = async (answer: Response) => textOf((await answer.text()).match(/<div class="alert alert-error"[\s\S]*?<\/div>/)?.[0] ?? '');

/** Whether the hub's login page takes these credentials (a new browser, the sales project). */
async function canSignIn(email: string, password: string) {
  const result = await authorize(new Browser(t.url), { clientId: 'sales', redirectUri: 'http://localhost:3001/auth/callback', email, password, scope: 'openid' });
  return { ok: Boolean(result.code), status: result.response.status };
}

describe('changing the password', () => {
  const EMAIL = 'ada@example.com';
  let adaId: string;
  let here: Awaited<ReturnType<typeof signedIn>>;
  let elsewhere: Awaited<ReturnType<typeof signedIn>>;

  beforeAll(async () => {
    adaId = (await createUser(t, EMAIL, 'Ada')).id;
    here = await signedIn(EMAIL);
    elsewhere = await signedIn(EMAIL);
  });

  it('refuses a weak or missing new password and a missing current one, without counting a guess', async () => {
    for (const [current, password, message] of [
      [PASSWORD, 'short', 'Password must be at least 10 characters.'],
      [PASSWORD, '', 'Password must be at least 10 characters.'],
      [PASSWORD, 'x'.repeat(73), 'Password must be at most 72 bytes.'],
      ['', NEW_PASSWORD, 'Enter your current password.'],
    ]) {
      const answer = await change(here.browser, current, password);
      expect(answer.status).toBe(400);
      expect(await errorOf(answer)).toBe(message);
    }
    // Six refusals, and the login limit of 5 is untouched.
    expect((await canSignIn(EMAIL, PASSWORD)).ok).toBe(true);
    expect(await eventRows(t, { type: 'user.password_changed', userId: adaId })).toHaveLength(0);
  });

  it('refuses a wrong current password (401) and changes nothing', async () => {
    const answer = await change(here.browser, 'not my password at all', NEW_PASSWORD);
    expect(answer.status).toBe(401);
    expect(await errorOf(answer)).toBe('Your current password is not right.');
    expect((await canSignIn(EMAIL, PASSWORD)).ok).toBe(true);
    expect((await refresh(t, 'sales', elsewhere.refreshToken)).status).toBe(200);
  });

  it('with the right current password: changed, every other browser signed out and its refresh token revoked, this one kept', async () => {
    // The refresh above rotated the other browser's token: sign it in again for a fresh one.
    elsewhere = await signedIn(EMAIL);
    const answer = await change(here.browser, PASSWORD, NEW_PASSWORD);
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/account/security?done=password');
    expect(textOf((await page(here.browser, '/account/security?done=password')).body)).toContain('Your password was changed. Every other browser was signed out.');

    expect((await here.browser.get('/account')).status).toBe(200);
    const kept = await refresh(t, 'sales', here.refreshToken);
    expect(kept.status, kept.text).toBe(200);
    expect((await elsewhere.browser.get('/account')).headers.get('location')).toMatch(/^\/account\/login/);
    expect((await refresh(t, 'sales', elsewhere.refreshToken)).body.error).toBe('invalid_grant');

    expect((await canSignIn(EMAIL, PASSWORD)).ok).toBe(false);
    expect((await canSignIn(EMAIL, NEW_PASSWORD)).ok).toBe(true);

    const events = await eventRows(t, { type: 'user.password_changed', userId: adaId });
    expect(events).toHaveLength(1);
    expect(events[0].actor).toEqual({ type: 'user', id: adaId });
    expect(events[0].data).toMatchObject({ id: adaId, email: EMAIL });
    const stored = JSON.stringify((await t.hub.db.prisma.event.findMany()).map((e) => e.data));
    for (const secret of [PASSWORD, NEW_PASSWORD, '$2b$', '$2a$']) expect(stored).not.toContain(secret);
    expect(await eventRows(t, { type: 'user.updated', userId: adaId })).toHaveLength(0);
  });

  it('nexus users set-password (Users.setPassword) emits user.password_changed too', async () => {
    await t.hub.users.setPassword(EMAIL, 'the operator set this one');
    const events = await eventRows(t, { type: 'user.password_changed', userId: adaId });
    expect(events).toHaveLength(2);
    expect(events[1].actor).toEqual({ type: 'system', id: 'nexus' });
  });
});

describe('wrong current passwords count like failed logins', () => {
  it('the sixth wrong attempt is locked (429 + Retry-After), also for the right password and on the login page', async () => {
    const email = 'carol@example.com';
    await createUser(t, email, 'Carol');
    const { browser } = await signedIn(email);
    for (let i = 0; i < 5; i++) expect((await change(browser, `wrong guess ${i}`, NEW_PASSWORD)).status).toBe(401);
    const locked = await change(browser, PASSWORD, NEW_PASSWORD);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await errorOf(locked)).toMatch(/^Too many wrong passwords\. Try again in \d+ minute\(s\)\.$/);
    expect((await canSignIn(email, PASSWORD)).status).toBe(429);
  });

  it('8 parallel wrong guesses behind a barrier: at most 5 are checked, the rest are locked', async () => {
    const email = 'dan@example.com';
    await createUser(t, email, 'Dan');
    const { browser } = await signedIn(email);
    const { fields } = parseForm((await page(browser, '/account/security')).body, '/account/password');
    const statuses = await together(8, async (i) => (await browser.post('/account/password', { ...fields, current: `parallel guess ${i}`, password: NEW_PASSWORD })).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
  });
});

describe('parallel changes', () => {
  it('8 parallel changes with the right current password: exactly one wins and one event is published, no 5xx', async () => {
    const email = 'erin@example.com';
    const erinId = (await createUser(t, email, 'Erin')).id;
    const { browser } = await signedIn(email);
    const { fields } = parseForm((await page(browser, '/account/security')).body, '/account/password');
    const statuses = await together(8, async (i) => (await browser.post('/account/password', { ...fields, current: PASSWORD, password: `${NEW_PASSWORD} ${i}` })).status);
    expect(statuses.filter((s) => s === 303), String(statuses)).toHaveLength(1);
    // The others: the password they gave is no longer the current one (401), or the login limit,
    // which takes a point from each attempt before any is checked, refused them first (429).
    expect(statuses.every((s) => s === 303 || s === 401 || s === 429), String(statuses)).toBe(true);
    expect(await eventRows(t, { type: 'user.password_changed', userId: erinId })).toHaveLength(1);
    expect((await browser.get('/account')).status).toBe(200);
  });
});

describe('the password form', () => {
  it('needs a signed-in browser (401) and its CSRF token (403); hostile fields and methods never answer 5xx', async () => {
    const email = 'fay@example.com';
    await createUser(t, email, 'Fay');
    const { browser } = await signedIn(email);
    expect((await new Browser(t.url).post('/account/password', { csrf: 'x', current: PASSWORD, password: NEW_PASSWORD })).status).toBe(401);
    expect((await browser.post('/account/password', { csrf: 'forged', current: PASSWORD, password: NEW_PASSWORD })).status).toBe(403);
    const { fields } = parseForm((await page(browser, '/account/security')).body, '/account/password');
    for (const [current, password] of [['\u0000', NEW_PASSWORD], ['x'.repeat(100), `${NEW_PASSWORD}\u0000`], ['\uD800', '\uDFFF'.repeat(12)], ['é'.repeat(40), '💥'.repeat(20)]]) {
      const answer = await browser.post('/account/password', { ...fields, current, password });
      expect(answer.status, JSON.stringify([current.slice(0, 5), password.slice(0, 5)])).toBeLessThan(500);
    }
    const repeated = await browser.request('/account/password', {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${encodeURIComponent(fields.csrf)}&current=a&current=b&password=${encodeURIComponent(NEW_PASSWORD)}`,
    });
    expect(repeated.status).toBe(400);
    const huge = await browser.request('/account/password', {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${fields.csrf}&current=${'y'.repeat(100_000)}`,
    });
    expect(huge.status).toBe(413);
    for (const method of ['GET', 'PUT', 'DELETE']) expect((await browser.request('/account/password', { method })).status).toBeLessThan(500);
    // Fay's password is still the one she had.
    expect((await canSignIn(email, PASSWORD)).ok).toBe(true);
  });
});
