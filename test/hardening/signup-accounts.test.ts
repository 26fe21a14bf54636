// Sign-up must not reveal who has an account, and one person's address has one spelling:
// look-alikes (full-width letters, NFD vs NFC, case) reach the same account, and addresses with
// invisible characters are refused. Hostile values answer 4xx, never 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { parseForm } from '../support/browser.js';
import { MANY_AUTHORIZATIONS, openLogin, openSignup } from './login-support.js';

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a long enough password';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ ...MANY_AUTHORIZATIONS, SIGNUPS_PER_IP_PER_HOUR: '1000' });
  await t.hub.users.create({ email: 'ada@example.com', password: PASSWORD, fullName: 'Ada Lovelace' });
});
afterAll(() => t?.stop());

const userCount = () => t.hub.db.prisma.user.count();

async function signUp(email: string, extra: Record<string, string> = {}) {
  const form = await openSignup(t);
  const response = await form.submit({ name: 'Someone', email, password: NEW_PASSWORD, ...extra });
  return { form, response, body: await response.text() };
}

/** A page or header with the values that differ per interaction (its id, CSRF token) masked. */
function masked(text: string, form: { action: string; fields: Record<string, string> }) {
  const uid = form.action.split('/')[2];
  return text.replaceAll(uid, 'UID').replaceAll(form.fields.csrf, 'CSRF');
}

describe('sign-up for a registered address', () => {
  it('answers exactly like sign-up for a new address: status, headers, redirect and page', async () => {
    const registered = await signUp('ada@example.com');
    const fresh = await signUp('newcomer@example.com');

    expect(registered.response.status).toBe(303);
    expect(fresh.response.status).toBe(registered.response.status);
    const headerNames = (r: Response) => [...r.headers.keys()].filter((name) => !['date', 'x-request-id'].includes(name)).sort();
    expect(headerNames(registered.response)).toEqual(headerNames(fresh.response));
    expect(registered.response.headers.getSetCookie().length).toBe(fresh.response.headers.getSetCookie().length);
    expect(masked(registered.response.headers.get('location')!, registered.form)).toBe(masked(fresh.response.headers.get('location')!, fresh.form));
    expect(masked(registered.body, registered.form)).toBe(masked(fresh.body, fresh.form));

    const pages = await Promise.all([registered, fresh].map(async ({ form, response }) => {
      const page = await form.browser.follow(response);
      return { status: page.response.status, body: masked(page.body, form) };
    }));
    expect(pages[0]).toEqual(pages[1]);
    expect(pages[0].status).toBe(200);
    expect(pages[0].body).toContain('If this address can be used');
    expect(pages[0].body).toContain('/login"'); // the page is where one signs in next
  });

  it('leaves the registered account as it was', async () => {
    const before = await t.hub.users.findByEmail('ada@example.com');
    await signUp('ada@example.com', { name: 'Mallory' });
    const after = await t.hub.users.findByEmail('ada@example.com');
    expect(after).toEqual(before);
  });

  it('creates the new account, which then signs in on the page sign-up leads to', async () => {
    const { form, response } = await signUp('grace@example.com', { name: 'Grace Hopper' });
    const page = await form.browser.follow(response);
    expect(await t.hub.users.findByEmail('grace@example.com')).toMatchObject({ fullName: 'Grace Hopper' });
    const login = parseForm(page.body, '/login');
    const signedIn = await form.browser.post(login.action, { ...login.fields, email: 'grace@example.com', password: NEW_PASSWORD });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toMatch(/\/auth\//);
  });
});

describe('look-alike spellings of one address', () => {
  it.each([
    ['full-width letters', 'ＡＤＡ@example.com'],
    ['a full-width domain', 'ada@ｅｘａｍｐｌｅ.com'],
    ['case and spaces', '  Ada@EXAMPLE.com '],
    ['a leading byte order mark (trimmed like a space)', '\ufeffada@example.com'],
  ])('reach the existing account (%s): no second account', async (_, spelling) => {
    const before = await userCount();
    expect((await signUp(spelling)).response.status).toBe(303);
    expect(await userCount()).toBe(before);
  });

  it('store NFD and NFC as one address, and either spelling signs in', async () => {
    const before = await userCount();
    expect((await signUp('jose\u0301@example.com')).response.status).toBe(303); // e + combining acute
    expect(await userCount()).toBe(before + 1);
    expect(await t.hub.users.findByEmail('jos\u00e9@example.com')).toMatchObject({ email: 'jos\u00e9@example.com' });
    expect((await signUp('jos\u00e9@example.com')).response.status).toBe(303);
    expect(await userCount()).toBe(before + 1);
    const login = await openLogin(t);
    expect((await login.submit({ email: 'JOSE\u0301@example.com', password: NEW_PASSWORD })).status).toBe(303);
  });
});

describe('hostile sign-up values', () => {
  it.each([
    ['a zero-width space', 'ada\u200b@example.com'],
    ['a zero-width joiner', 'a\u200dda@example.com'],
    ['a right-to-left override', 'ada\u202e@example.com'],
    ['a byte order mark', 'ada\ufeff@example.com'],
    ['a word joiner in the domain', 'ada@exam\u2060ple.com'],
    ['a soft hyphen', 'ad\u00ada@example.com'],
    ['a NUL byte', 'ada\u0000@example.com'],
    ['a control character', 'ada\u0007@example.com'],
  ])('refuses an address with %s (400, no account)', async (_, email) => {
    const before = await userCount();
    const { response, body } = await signUp(email);
    expect(response.status).toBe(400);
    expect(body).toContain('Enter a valid email address.');
    expect(await userCount()).toBe(before);
  });

  it('refuses a NUL byte or a control character in the name, and an over-long name or address (400)', async () => {
    const before = await userCount();
    for (const [email, name] of [
      ['nul-name@example.com', 'Ada\u0000Lovelace'],
      ['newline-name@example.com', 'Ada\nLovelace'],
      ['long-name@example.com', 'x'.repeat(201)],
      [`${'a'.repeat(250)}@example.com`, 'Long Address'],
    ]) {
      const { response } = await signUp(email, { name });
      expect(response.status, JSON.stringify(name).slice(0, 40)).toBe(400);
    }
    expect(await userCount()).toBe(before);
  });

  it('answers an oversized sign-up form with 413 and a NUL in the password with 400', async () => {
    expect((await signUp('big@example.com', { name: 'x'.repeat(20_000) })).response.status).toBe(413);
    // bcrypt would take the NUL; the password is refused only if too short, like any other.
    expect((await signUp('nul-password@example.com', { password: 'short\u0000' })).response.status).toBe(400);
  });
});
