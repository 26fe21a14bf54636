// The account center's profile page (/account) through a real hub and its real sign-in: name and
// avatar URL saved with a `user.updated` that names only what changed, refused avatar URLs and
// names (the page again, nothing stored, no event), CSRF, hostile form input, and 8 parallel
// identical posts changing the row (and publishing) once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm } from '../support/browser.js';
import { createUser, eventRows, page, signIn, signInToAccount, textOf } from '../billing/support.js';

let t: TestHub;
let browser: Browser;
let userId: string;
const EMAIL = 'ada@example.com';

beforeAll(async () => {
  t = await startTestHub();
  userId = (await createUser(t, EMAIL, 'Ada')).id;
  browser = new Browser(t.url);
  await signInToAccount(browser, EMAIL);
});
afterAll(() => t?.stop());

const profileForm = async () => parseForm((await page(browser, '/account')).body, '/account/profile');

/** Posts the profile form of the page with these values (the page's own CSRF token). */
async function save(values: Record<string, string>, b = browser) {
  const { action, fields } = parseForm((await page(b, '/account')).body, '/account/profile');
  return b.post(action, { ...fields, ...values });
}

const profileEvents = () => eventRows(t, { type: 'user.updated', userId });
const stored = () => t.hub.db.prisma.user.findUniqueOrThrow({ where: { id: userId } });

describe('the profile page', () => {
  it('shows the navigation, the profile form with its CSRF token, the email block and the plan box; no scripts', async () => {
    const shown = await page(browser, '/account');
    expect(shown.response.status).toBe(200);
    expect(shown.response.headers.get('cache-control')).toBe('no-store');
    expect(shown.response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(shown.body).toContain('<a href="/account" aria-current="page">Profile</a>');
    expect(shown.body).not.toMatch(/<script/i);
    const { fields } = await profileForm();
    expect(fields).toEqual({ csrf: expect.any(String), name: 'Ada', avatarUrl: '' });
    expect(fields.csrf.length).toBeGreaterThan(20);
    const text = textOf(shown.body);
    expect(text).toContain(EMAIL);
    expect(text).toMatch(/Email address ada@example\.com Verified/);
    expect(text).toMatch(/Current plan Free Active/);
    expect(text).toContain('Online billing is not configured on this hub');
  });

  it('without a hub session it sends the browser to the sign-in, which comes back to /account', async () => {
    const answer = await fetch(`${t.url}/account`, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/account/login?returnTo=%2Faccount');
  });
});

describe('saving the profile', () => {
  it('saves name and avatar URL, says so, and publishes user.updated naming both', async () => {
    const answer = await save({ name: '  Ada Lovelace ', avatarUrl: 'https://images.example.com/ada.png' });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/account?saved=profile');
    const shown = await page(browser, '/account?saved=profile');
    expect(textOf(shown.body)).toContain('Your profile was saved.');
    expect(textOf(shown.body)).toContain('Ada Lovelace');
    expect(parseForm(shown.body, '/account/profile').fields).toMatchObject({ name: 'Ada Lovelace', avatarUrl: 'https://images.example.com/ada.png' });
    expect(await stored()).toMatchObject({ fullName: 'Ada Lovelace', avatarUrl: 'https://images.example.com/ada.png' });
    const events = await profileEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: 'nexus', actor: { type: 'user', id: userId },
      data: { id: userId, email: EMAIL, name: 'Ada Lovelace', avatarUrl: 'https://images.example.com/ada.png', changed: ['name', 'avatarUrl'] },
    });
  });

  it('the same values again change nothing and publish nothing', async () => {
    expect((await save({ name: 'Ada Lovelace', avatarUrl: 'https://images.example.com/ada.png' })).status).toBe(303);
    expect(await profileEvents()).toHaveLength(1);
  });

  it('only the avatar: changed ["avatarUrl"]; clearing it stores none', async () => {
    expect((await save({ name: 'Ada Lovelace', avatarUrl: 'https://images.example.com/ada-2.png' })).status).toBe(303);
    expect((await save({ name: 'Ada Lovelace', avatarUrl: '' })).status).toBe(303);
    expect((await stored()).avatarUrl).toBeNull();
    const events = await profileEvents();
    expect(events.slice(1).map((event) => (event.data as { changed: string[] }).changed)).toEqual([['avatarUrl'], ['avatarUrl']]);
    expect((events.at(-1)!.data as { avatarUrl: unknown }).avatarUrl).toBeNull();
  });

  it('only the name: changed ["name"]', async () => {
    expect((await save({ name: 'Augusta Ada King', avatarUrl: '' })).status).toBe(303);
    expect((await profileEvents()).at(-1)!.data).toMatchObject({ name: 'Augusta Ada King', changed: ['name'] });
  });

  it.each([
    ['javascript: URL', 'javascript:alert(1)', 'https://'],
    ['http URL', 'http://images.example.com/ada.png', 'https://'],
    ['data URL', 'data:image/png;base64,iVBORw0KGgo=', 'https://'],
    ['no scheme', 'images.example.com/ada.png', 'https://'],
    ['a NUL byte', 'https://images.example.com/a\u0000da.png', 'control'],
    ['a newline', 'https://images.example.com/ada.png\nX-Evil: 1', 'control'],
    ['a right-to-left override', 'https://images.example.com/\u202Egnp.ada', 'invisible'],
    ['10 KB', `https://images.example.com/${'a'.repeat(10 * 1024)}.png`, 'at most 2048'],
    ['credentials in the URL', 'https://ada:secret@images.example.com/ada.png', 'user name or password'],
    ['only the scheme', 'https://', 'https://'],
  ])('refuses an avatar URL with %s: the page again (400) with the reason, nothing stored, no event', async (_label, avatarUrl, reason) => {
    const before = await stored();
    const eventsBefore = (await profileEvents()).length;
    const answer = await save({ name: 'Someone Else', avatarUrl });
    expect(answer.status).toBe(400);
    const body = await answer.text();
    expect(textOf(body)).toContain(reason);
    expect(body).not.toMatch(/<script/i);
    // What was typed comes back in the form (escaped), so the person can correct it.
    expect(parseForm(body, '/account/profile').fields.name).toBe('Someone Else');
    expect(await stored()).toMatchObject({ fullName: before.fullName, avatarUrl: before.avatarUrl });
    expect(await profileEvents()).toHaveLength(eventsBefore);
  });

  it.each([
    ['201 characters', 'a'.repeat(201), 'at most 200'],
    ['a NUL byte', 'Ada\u0000Lovelace', 'control characters'],
    ['a newline', 'Ada\nLovelace', 'control characters'],
  ])('refuses a name with %s', async (_label, name, reason) => {
    const answer = await save({ name, avatarUrl: '' });
    expect(answer.status).toBe(400);
    expect(textOf(await answer.text())).toContain(reason);
    expect((await stored()).fullName).toBe('Augusta Ada King');
  });

  it('an empty name clears it', async () => {
    expect((await save({ name: '   ', avatarUrl: '' })).status).toBe(303);
    expect((await stored()).fullName).toBeNull();
    expect((await profileEvents()).at(-1)!.data).toMatchObject({ name: null, changed: ['name'] });
    expect((await save({ name: 'Augusta Ada King', avatarUrl: '' })).status).toBe(303);
  });
});

describe('what the apps see', () => {
  it('the saved name and avatar are the name and picture of userinfo (scope profile)', async () => {
    expect((await save({ name: 'Augusta Ada King', avatarUrl: 'https://images.example.com/augusta.png' })).status).toBe(303);
    const { tokens } = await signIn(t, 'sales', EMAIL, { scope: 'openid profile offline_access' });
    const me = await fetch(`${t.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(await me.json()).toMatchObject({ sub: userId, name: 'Augusta Ada King', picture: 'https://images.example.com/augusta.png' });
    expect((await save({ name: 'Augusta Ada King', avatarUrl: '' })).status).toBe(303);
  });
});

describe('who may post', () => {
  it('a missing or wrong CSRF token is refused (403) and changes nothing', async () => {
    const { action, fields } = await profileForm();
    const missing = await browser.post(action, { name: 'Forged', avatarUrl: '' });
    expect(missing.status).toBe(403);
    const wrong = await browser.post(action, { ...fields, csrf: `${fields.csrf.slice(0, -2)}xx`, name: 'Forged' });
    expect(wrong.status).toBe(403);
    expect(await wrong.text()).toContain('This form has expired');
    // The token of this session in another browser (no session): 401.
    expect((await new Browser(t.url).post(action, { ...fields, name: 'Forged' })).status).toBe(401);
    expect((await stored()).fullName).toBe('Augusta Ada King');
  });

  it('another user\'s session token does not work in this session, and each user edits only their own profile', async () => {
    const bob = await createUser(t, 'bob@example.com', 'Bob');
    const bobBrowser = new Browser(t.url);
    await signInToAccount(bobBrowser, 'bob@example.com');
    const { fields } = await profileForm();
    expect((await bobBrowser.post('/account/profile', { ...fields, name: 'Not Bob', avatarUrl: '' })).status).toBe(403);
    expect((await save({ name: 'Robert', avatarUrl: '' }, bobBrowser)).status).toBe(303);
    expect((await t.hub.db.prisma.user.findUniqueOrThrow({ where: { id: bob.id } })).fullName).toBe('Robert');
    expect((await stored()).fullName).toBe('Augusta Ada King');
  });
});

describe('hostile input never answers 5xx', () => {
  const raw = (method: string, path: string, body?: string, contentType = 'application/x-www-form-urlencoded') => browser.request(path, {
    method, headers: { 'content-type': contentType, accept: 'text/html' }, ...(body === undefined ? {} : { body }),
  });

  it('repeated, missing, wrongly typed and oversized fields, bodies of other types, wrong methods', async () => {
    const { fields } = await profileForm();
    const csrf = encodeURIComponent(fields.csrf);
    const answers = await Promise.all([
      raw('POST', '/account/profile', `csrf=${csrf}&name=a&name=b&avatarUrl=`),
      raw('POST', '/account/profile', `csrf=${csrf}&avatarUrl=`),
      raw('POST', '/account/profile', `csrf=${csrf}&name[x]=1&avatarUrl[]=2`),
      raw('POST', '/account/profile', `csrf=${csrf}&name=${'x'.repeat(100 * 1024)}&avatarUrl=`),
      raw('POST', '/account/profile', `csrf=${csrf}&name=%00%FF%FE&avatarUrl=%ED%A0%80`),
      raw('POST', '/account/profile', JSON.stringify({ csrf: fields.csrf, name: ['x'], avatarUrl: 1 }), 'application/json'),
      raw('POST', '/account/profile', '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--x--', 'multipart/form-data; boundary=x'),
      raw('POST', '/account/profile', '%%%%&&&==='),
      raw('PUT', '/account/profile', `csrf=${csrf}&name=x&avatarUrl=`),
      raw('DELETE', '/account/profile'),
      raw('GET', '/account/profile'),
      raw('GET', `/account?saved=${'%00'.repeat(1000)}&checkout=success&checkout=changed`),
    ]);
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status >= 500), `statuses: ${statuses}`).toEqual([]);
    expect(statuses.slice(0, 3)).toEqual([400, 400, 400]);
    expect(statuses[3]).toBe(413);
    expect((await stored()).fullName).toBe('Augusta Ada King');
  });
});

describe('parallel posts', () => {
  it('8 identical posts behind a barrier: all answered, the row changed and user.updated published once', async () => {
    const { action, fields } = await profileForm();
    const before = (await profileEvents()).length;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const posts = Array.from({ length: 8 }, () => gate.then(() => browser.post(action, { ...fields, name: 'Countess of Lovelace', avatarUrl: 'https://images.example.com/countess.png' })));
    release();
    const answers = await Promise.all(posts);
    expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(303));
    const events = await profileEvents();
    expect(events).toHaveLength(before + 1);
    expect(events.at(-1)!.data).toMatchObject({ name: 'Countess of Lovelace', changed: ['name', 'avatarUrl'] });
  });
});
