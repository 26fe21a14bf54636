// The sessions list of the account center (/account/security) through a real hub: every signed-in
// browser with its device, address and times, "this browser" marked; signing one out (its hub
// session ends and its refresh tokens stop working, the other browser is untouched), signing out
// everywhere else, someone else's session answered as unknown, 8 parallel revocations of one
// session emitting one session.revoked, and the details of ended sessions swept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { Browser, parseForm } from '../support/browser.js';
import { createUser, eventRows, page, refresh, signIn, signInToAccount, textOf } from '../billing/support.js';
import { HubSessions } from '../../src/accounts/hub-sessions.js';

export const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
export const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** A browser that sends its own User-Agent (and any other headers given, on every request). */
export class DeviceBrowser extends Browser {
  constructor(base: string, private readonly userAgent: string, private readonly extra: Record<string, string> = {}) {
    super(base);
  }

  override request(url: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set('user-agent', this.userAgent);
    for (const [name, value] of Object.entries(this.extra)) headers.set(name, value);
    return super.request(url, { ...init, headers });
  }
}

const EMAIL = 'ada@example.com';
const BOB = 'bob@example.com';
let t: TestHub;
let adaId: string;
let bobId: string;

beforeAll(async () => {
  t = await startTestHub();
  adaId = (await createUser(t, EMAIL, 'Ada')).id;
  bobId = (await createUser(t, BOB, 'Bob')).id;
});
afterAll(() => t?.stop());

/** A browser signed in to sales (with a refresh token) and to the account center. */
async function signedInBrowser(userAgent: string, email = EMAIL) {
  const browser = new DeviceBrowser(t.url, userAgent);
  const { tokens } = await signIn(t, 'sales', email, { browser });
  await signInToAccount(browser, email, '/account/security');
  return { browser, refreshToken: tokens.refresh_token };
}

interface Listed { uid: string; text: string; current: boolean }

/** The sessions list as the page shows it. */
async function listed(browser: Browser): Promise<Listed[]> {
  const shown = await page(browser, '/account/security');
  expect(shown.response.status, shown.body.slice(0, 500)).toBe(200);
  return [...shown.body.matchAll(/<li class="browser-item([^"]*)" data-session="([^"]+)">([\s\S]*?)<\/li>/g)]
    .map(([, classes, uid, html]) => ({ uid, text: textOf(html), current: classes.includes('browser-current') }));
}

async function revoke(browser: Browser, uid: string) {
  const { fields } = parseForm((await page(browser, '/account/security')).body, '/account/password');
  return browser.post(`/account/sessions/${encodeURIComponent(uid)}/revoke`, { csrf: fields.csrf });
}

const revokedEvents = (userId = adaId) => eventRows(t, { type: 'session.revoked', userId });
const isSignedOut = async (browser: Browser) => (await browser.get('/account')).headers.get('location')?.startsWith('/account/login') ?? false;

describe('the sessions list', () => {
  let firefox: Awaited<ReturnType<typeof signedInBrowser>>;
  let iphone: Awaited<ReturnType<typeof signedInBrowser>>;

  beforeAll(async () => {
    firefox = await signedInBrowser(FIREFOX_LINUX);
    iphone = await signedInBrowser(SAFARI_IPHONE);
  });

  it('lists both browsers with device, address, sign-in time and last activity; this browser is marked', async () => {
    const sessions = await listed(firefox.browser);
    expect(sessions).toHaveLength(2);
    expect(sessions.map((s) => s.current)).toEqual([true, false]); // this browser first
    const [mine] = sessions.filter((s) => s.current);
    const other = sessions.find((s) => !s.current)!;
    expect(mine.text).toContain('Firefox on Linux');
    expect(mine.text).toContain('This browser');
    expect(other.text).toContain('Safari on iOS');
    expect(other.text).not.toContain('This browser');
    const year = String(new Date().getUTCFullYear());
    for (const session of sessions) {
      expect(session.text).toContain('IP address 127.0.0.1');
      expect(session.text).toMatch(new RegExp(`Signed in \\d+ \\w+ ${year}, \\d\\d:\\d\\d UTC`));
      expect(session.text).toMatch(new RegExp(`Last active \\d+ \\w+ ${year}, \\d\\d:\\d\\d UTC`));
    }
    // The other browser sees the same two, itself marked.
    const fromIphone = await listed(iphone.browser);
    expect(fromIphone.map((s) => [s.uid, s.current]).sort()).toEqual(sessions.map((s) => [s.uid, !s.current]).sort());
  });

  it('the page is script-free, every form carries the CSRF token, and it is not cached', async () => {
    const shown = await page(firefox.browser, '/account/security');
    expect(shown.body).not.toMatch(/<script/i);
    expect(shown.response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(shown.response.headers.get('cache-control')).toBe('no-store');
    expect(shown.body).toContain('<a href="/account/security" aria-current="page">Password &amp; sessions</a>');
    const forms = [...shown.body.matchAll(/<form\b[\s\S]*?<\/form>/g)].map(([form]) => form);
    expect(forms.length).toBeGreaterThanOrEqual(4); // password, two sessions, everywhere else
    for (const form of forms) expect(form).toMatch(/<input type="hidden" name="csrf" value="[^"]{20,}">/);
  });

  it('another sign-in of the same browser within the minute writes no new activity', async () => {
    const before = await t.hub.db.prisma.hubSession.findMany({ where: { userId: adaId }, orderBy: { uid: 'asc' } });
    firefox.refreshToken = (await signIn(t, 'sales', EMAIL, { browser: firefox.browser })).tokens.refresh_token;
    const after = await t.hub.db.prisma.hubSession.findMany({ where: { userId: adaId }, orderBy: { uid: 'asc' } });
    expect(after.map((s) => s.lastSeenAt.getTime())).toEqual(before.map((s) => s.lastSeenAt.getTime()));
  });

  it('signing out the other browser ends its hub session and its refresh token; this browser is untouched', async () => {
    const other = (await listed(firefox.browser)).find((s) => !s.current)!;
    const answer = await revoke(firefox.browser, other.uid);
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/account/security?done=signed-out');
    expect(textOf((await page(firefox.browser, '/account/security?done=signed-out')).body)).toContain('That browser was signed out.');

    expect(await isSignedOut(iphone.browser)).toBe(true);
    const refused = await refresh(t, 'sales', iphone.refreshToken);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');

    expect(await isSignedOut(firefox.browser)).toBe(false);
    const kept = await refresh(t, 'sales', firefox.refreshToken);
    expect(kept.status, kept.text).toBe(200);
    firefox.refreshToken = kept.body.refresh_token;
    expect((await listed(firefox.browser)).map((s) => s.uid)).not.toContain(other.uid);

    const events = await revokedEvents();
    expect(events.map((e) => e.data)).toEqual([{ uid: other.uid, device: 'Safari on iOS' }]);
    expect(events[0].actor).toEqual({ type: 'user', id: adaId });
    expect(await t.hub.db.prisma.hubSession.count({ where: { uid: other.uid } })).toBe(0);
    // Revoked already: unknown now.
    expect((await revoke(firefox.browser, other.uid)).status).toBe(404);
  });

  it('signing out everywhere else ends every other session and keeps this one', async () => {
    const chrome = await signedInBrowser(CHROME_WINDOWS);
    const phone = await signedInBrowser(SAFARI_IPHONE);
    expect(await listed(firefox.browser)).toHaveLength(3);
    const { fields } = parseForm((await page(firefox.browser, '/account/security')).body, '/account/sessions/revoke-others');
    const answer = await firefox.browser.post('/account/sessions/revoke-others', fields);
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/account/security?done=signed-out-others');

    for (const gone of [chrome, phone]) {
      expect(await isSignedOut(gone.browser)).toBe(true);
      expect((await refresh(t, 'sales', gone.refreshToken)).body.error).toBe('invalid_grant');
    }
    const left = await listed(firefox.browser);
    expect(left).toHaveLength(1);
    expect(left[0].current).toBe(true);
    expect((await refresh(t, 'sales', firefox.refreshToken)).status).toBe(200);
    expect((await revokedEvents()).slice(1).map((e) => (e.data as { device: string }).device).sort()).toEqual(['Chrome on Windows', 'Safari on iOS']);
  });

  it("someone else's session is not found, like an unknown one, and stays signed in", async () => {
    const bob = await signedInBrowser(CHROME_WINDOWS, BOB);
    const [bobSession] = await listed(bob.browser);
    const before = (await revokedEvents()).length;
    expect((await revoke(firefox.browser, bobSession.uid)).status).toBe(404);
    expect((await revoke(firefox.browser, 'no-such-session')).status).toBe(404);
    expect(await isSignedOut(bob.browser)).toBe(false);
    expect((await refresh(t, 'sales', bob.refreshToken)).status).toBe(200);
    expect(await revokedEvents()).toHaveLength(before);
    expect(await revokedEvents(bobId)).toHaveLength(0);
  });

  it('8 parallel revocations of one session: one wins, the others find nothing, one session.revoked, no 5xx', async () => {
    const target = await signedInBrowser(CHROME_WINDOWS);
    const uid = (await listed(target.browser)).find((s) => s.current)!.uid;
    const { fields } = parseForm((await page(firefox.browser, '/account/security')).body, `/account/sessions/${uid}/revoke`);
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => { release = resolve; });
    const attempts = Array.from({ length: 8 }, async () => {
      await barrier;
      return (await firefox.browser.post(`/account/sessions/${uid}/revoke`, fields)).status;
    });
    release();
    const statuses = await Promise.all(attempts);
    expect(statuses.filter((s) => s === 303)).toHaveLength(1);
    expect(statuses.filter((s) => s === 404)).toHaveLength(7);
    expect((await revokedEvents()).filter((e) => (e.data as { uid: string }).uid === uid)).toHaveLength(1);
    expect(await isSignedOut(target.browser)).toBe(true);
  });

  it('8 parallel "sign out everywhere else": each other session ends once (one session.revoked each), no 5xx', async () => {
    const others = [await signedInBrowser(CHROME_WINDOWS), await signedInBrowser(SAFARI_IPHONE), await signedInBrowser(FIREFOX_LINUX)];
    const uids = (await listed(firefox.browser)).filter((s) => !s.current).map((s) => s.uid);
    expect(uids).toHaveLength(3);
    const { fields } = parseForm((await page(firefox.browser, '/account/security')).body, '/account/sessions/revoke-others');
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => { release = resolve; });
    const attempts = Array.from({ length: 8 }, async () => {
      await barrier;
      return (await firefox.browser.post('/account/sessions/revoke-others', fields)).status;
    });
    release();
    expect(await Promise.all(attempts)).toEqual(Array(8).fill(303));
    const events = (await revokedEvents()).filter((e) => uids.includes((e.data as { uid: string }).uid));
    expect(events.map((e) => (e.data as { uid: string }).uid).sort()).toEqual([...uids].sort());
    for (const other of others) expect(await isSignedOut(other.browser)).toBe(true);
    expect(await isSignedOut(firefox.browser)).toBe(false);
  });

  it('a browser can sign itself out from the list', async () => {
    const self = await signedInBrowser(FIREFOX_LINUX);
    const uid = (await listed(self.browser)).find((s) => s.current)!.uid;
    expect((await revoke(self.browser, uid)).status).toBe(303);
    expect(await isSignedOut(self.browser)).toBe(true);
    expect(await isSignedOut(firefox.browser)).toBe(false);
  });
});

describe('the forms of the sessions list', () => {
  it('need a signed-in browser (401) and the CSRF token of its session (403)', async () => {
    const anonymous = new Browser(t.url);
    expect((await anonymous.post('/account/sessions/revoke-others', { csrf: 'x' })).status).toBe(401);
    expect((await anonymous.post('/account/sessions/abc/revoke', { csrf: 'x' })).status).toBe(401);
    const { browser } = await signedInBrowser(FIREFOX_LINUX, BOB);
    expect((await browser.post('/account/sessions/revoke-others', {})).status).toBe(403);
    expect((await browser.post('/account/sessions/revoke-others', { csrf: 'forged' })).status).toBe(403);
    // The token of another browser's session does not fit this one.
    const other = await signedInBrowser(FIREFOX_LINUX, BOB);
    const { fields } = parseForm((await page(other.browser, '/account/security')).body, '/account/sessions/revoke-others');
    expect((await browser.post('/account/sessions/revoke-others', fields)).status).toBe(403);
    expect(await isSignedOut(other.browser)).toBe(false);
  });

  it('the page asks an anonymous browser to sign in and comes back', async () => {
    const answer = await new Browser(t.url).get('/account/security');
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/account/login?returnTo=%2Faccount%2Fsecurity');
  });
});

describe('hostile input', () => {
  let browser: Browser;
  let csrf: string;
  beforeAll(async () => {
    ({ browser } = await signedInBrowser(FIREFOX_LINUX, BOB));
    csrf = parseForm((await page(browser, '/account/security')).body, '/account/sessions/revoke-others').fields.csrf;
  });

  it('hostile session ids, repeated and oversized fields and wrong methods never answer 5xx', async () => {
    const uids = ['%00', 'a%00b', '%C0%AF', '%ED%A0%80', '%FF', 'x'.repeat(5000), '..%2F..%2Fetc', '%E2%80%AE', encodeURIComponent("' OR 1=1 --")];
    for (const uid of uids) {
      const answer = await browser.post(`/account/sessions/${uid}/revoke`, { csrf });
      expect(answer.status, uid).toBeLessThan(500);
      expect([400, 404, 414, 431], uid).toContain(answer.status);
    }
    const repeated = await browser.request('/account/sessions/revoke-others', {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}&csrf=${csrf}`,
    });
    expect(repeated.status).toBe(403);
    const huge = await browser.request('/account/sessions/revoke-others', {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}&pad=${'x'.repeat(100_000)}`,
    });
    expect(huge.status).toBe(413);
    const json = await browser.request('/account/sessions/revoke-others', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csrf: [csrf] }) });
    expect(json.status).toBeLessThan(500);
    for (const method of ['GET', 'PUT', 'DELETE']) {
      for (const path of ['/account/sessions/revoke-others', '/account/sessions/abc/revoke']) {
        expect((await browser.request(path, { method })).status, `${method} ${path}`).toBeLessThan(500);
      }
    }
    expect((await browser.request('/account/security', { method: 'POST' })).status).toBeLessThan(500);
    const nul = await browser.get('/account/security?done=%00');
    expect(nul.status).toBe(200);
    // The browser is still signed in: nothing above ended a session.
    expect(await isSignedOut(browser)).toBe(false);
  });

  it('a hostile User-Agent is stored cleaned and shown escaped', async () => {
    const { browser: odd } = await signedInBrowser(`<script>alert(1)</script>\t ${'Z'.repeat(2000)}`, BOB);
    const shown = await page(odd, '/account/security');
    expect(shown.body).not.toContain('<script>');
    const stored = await t.hub.db.prisma.hubSession.findMany({ where: { userId: bobId } });
    for (const row of stored) {
      expect(row.userAgent!.length).toBeLessThanOrEqual(512);
      expect(row.userAgent).not.toMatch(/\p{Cc}/u);
    }
  });
});

describe('sessions without details', () => {
  it('a browser signed in before its details were kept is listed all the same, with its sign-in time', async () => {
    const { browser } = await signedInBrowser(FIREFOX_LINUX, BOB);
    const [current] = await listed(browser);
    await t.hub.db.prisma.hubSession.delete({ where: { uid: current.uid } });
    const [shown] = await listed(browser);
    expect(shown.uid).toBe(current.uid);
    expect(shown.current).toBe(true);
    expect(shown.text).toContain('Unknown device');
    expect(shown.text).toContain('IP address Unknown');
    expect(shown.text).toMatch(/Signed in \d+ \w+ \d{4}, \d\d:\d\d UTC/);
  });
});

describe('behind a proxy', () => {
  it('with TRUST_PROXY the address is the client the proxy saw, not one the client claims', async () => {
    const proxied = await startTestHub({ TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '1' });
    try {
      await createUser(proxied, EMAIL, 'Ada');
      // The client claims 10.9.9.9; the proxy appended the address it saw.
      const browser = new DeviceBrowser(proxied.url, FIREFOX_LINUX, { 'x-forwarded-for': '10.9.9.9, 203.0.113.7' });
      await signInToAccount(browser, EMAIL, '/account/security');
      const shown = textOf((await page(browser, '/account/security')).body);
      expect(shown).toContain('IP address 203.0.113.7');
      expect(shown).not.toContain('10.9.9.9');
    } finally {
      await proxied.stop();
    }
  });
});

describe('the sweep', () => {
  it('removes the details of ended sessions and keeps those of live ones', async () => {
    const live = await signedInBrowser(CHROME_WINDOWS, BOB);
    const [current] = await listed(live.browser);
    const old = new Date(Date.now() - 60 * 60_000);
    await t.hub.db.prisma.hubSession.create({ data: { uid: 'ended-long-ago', userId: bobId, userAgent: FIREFOX_LINUX, ip: '127.0.0.1', signedInAt: old, lastSeenAt: old } });
    await t.hub.db.prisma.hubSession.update({ where: { uid: current.uid }, data: { lastSeenAt: old } });
    expect(await new HubSessions(t.hub.db.prisma).sweep()).toBeGreaterThanOrEqual(1);
    expect(await t.hub.db.prisma.hubSession.count({ where: { uid: 'ended-long-ago' } })).toBe(0);
    expect(await t.hub.db.prisma.hubSession.count({ where: { uid: current.uid } })).toBe(1);
  });
});
