// "Forgot password" through the real pages and a real SMTP server: the same answer for any
// address, the 30-minute link, the new password (the old one stops, every session, grant and
// refresh token ends), single use under 8 parallel posts, the limits per address and per IP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countStatuses, eventsOf, IpBrowser, isSignedIn, linkIn, mailsTo, NEW_PASSWORD, openLink, PASSWORD, pressLink, signInToAccount, signInToSales, startFlowHub, together, type FlowHub,
} from './support.js';
import { parseForm, type Browser } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { EMAIL_LIMITS } from '../../src/account-center/email-limits.js';

let f: FlowHub;
beforeAll(async () => {
  f = await startFlowHub();
  for (const email of ['ada@example.com', 'grace@example.com', 'race@example.com', 'weak@example.com', 'limit@example.com', 'late@example.com']) {
    await f.t.hub.users.create({ email, password: PASSWORD });
  }
  await f.t.hub.users.create({ email: 'gone@example.com', password: PASSWORD });
  await f.t.hub.users.disable('gone@example.com');
});
afterAll(() => f?.stop());

/** Opens the forgot page (as the login page's link does) and sends the address. */
async function askForReset(email: string, browser: Browser = new IpBrowser(f.t.url)) {
  const page = await browser.follow(await browser.get('/account/forgot?returnTo=%2Finteraction%2Fabc123'));
  expect(page.response.status).toBe(200);
  const form = parseForm(page.body, '/account/forgot');
  const response = await browser.post(form.action, { ...form.fields, email });
  return { response, body: await response.text(), form };
}

/** The reset link mailed to `email` (the first one: each test resets a user of its own). */
async function resetLink(email: string) {
  expect((await askForReset(email)).response.status).toBe(200);
  return linkIn(await f.smtp.waitFor(email, (m) => m.subject.includes('new password')), '/account/reset');
}

describe('asking for a reset', () => {
  it('answers a registered, an unknown and a disabled address alike; only the registered one gets a link', async () => {
    const answers = await Promise.all(['ada@example.com', 'nobody@example.com', 'gone@example.com'].map(async (email) => {
      const { response, body, form } = await askForReset(email);
      return { status: response.status, body: body.replaceAll(email, 'EMAIL').replaceAll(form.fields.csrf, 'CSRF') };
    }));
    expect(answers[0].status).toBe(200);
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    expect(answers[0].body).toContain('If EMAIL belongs to a Nexus account');
    // The way back to the sign-in the person came from.
    expect(answers[0].body).toContain('href="/interaction/abc123"');

    const mail = await f.smtp.waitFor('ada@example.com', (m) => m.subject.includes('new password'));
    expect(linkIn(mail, '/account/reset')).toMatch(new RegExp(`^${f.t.url}/account/reset\\?token=[A-Za-z0-9_-]{43}$`));
    expect(mail.text).toContain('30 minutes');
    await new Promise((resolve) => setTimeout(resolve, 500)); // the worker sends in queue order
    expect(f.smtp.messages.filter((m) => m.to.includes('nobody@example.com') || m.to.includes('gone@example.com'))).toEqual([]);
  });

  it('points the page back at the hub sign-in for a returnTo that is not a sign-in page', async () => {
    for (const returnTo of ['//evil.example', 'https://evil.example/', '/\\evil', '/interaction/x/../../admin']) {
      const page = await new IpBrowser(f.t.url).get(`/account/forgot?returnTo=${encodeURIComponent(returnTo)}`);
      expect(page.status).toBe(200);
      const body = await page.text();
      expect(body).toContain('href="/account/login"');
      expect(body).not.toContain('evil');
    }
  });

  it('needs the form of this browser (CSRF bound to its cookie)', async () => {
    const { form } = await askForReset('ada@example.com');
    const stranger = await new IpBrowser(f.t.url).post('/account/forgot', { ...form.fields, email: 'ada@example.com' });
    expect(stranger.status).toBe(403);
  });

  it(`allows ${EMAIL_LIMITS.forgot.perSubject} links an hour per address, also under 8 parallel posts (429 + Retry-After)`, async () => {
    const browser = new IpBrowser(f.t.url);
    const page = await browser.follow(await browser.get('/account/forgot'));
    const form = parseForm(page.body, '/account/forgot');
    // Look-alike spellings share the address's budget.
    const spellings = ['limit@example.com', 'LIMIT@example.com', ' limit@EXAMPLE.com', 'ｌｉｍｉｔ@example.com'];
    const answers = await together(Array.from({ length: 8 }, (_, i) => () => browser.post(form.action, { ...form.fields, email: spellings[i % spellings.length] })));
    expect(countStatuses(answers)).toEqual({ 200: EMAIL_LIMITS.forgot.perSubject, 429: 8 - EMAIL_LIMITS.forgot.perSubject });
    const refused = answers.find((answer) => answer.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.text()).toContain('Too many mails were asked for');
  });

  it(`allows ${EMAIL_LIMITS.forgot.perIp} requests an hour per IP, whatever the addresses`, async () => {
    const browser = new IpBrowser(f.t.url);
    const page = await browser.follow(await browser.get('/account/forgot'));
    const form = parseForm(page.body, '/account/forgot');
    const answers = await together(Array.from({ length: EMAIL_LIMITS.forgot.perIp + 3 }, (_, i) => () => browser.post(form.action, { ...form.fields, email: `stranger${i}@example.com` })));
    expect(countStatuses(answers)).toEqual({ 200: EMAIL_LIMITS.forgot.perIp, 429: 3 });
    // Another address (client) is not affected.
    expect((await askForReset('stranger0@example.com')).response.status).toBe(200);
  });
});

describe('the reset link', () => {
  it('sets the new password and ends every session, grant and refresh token of the user', async () => {
    const sales = await signInToSales(f.t, 'grace@example.com');
    const otherBrowser = new IpBrowser(f.t.url);
    await signInToAccount(otherBrowser, 'grace@example.com');
    expect(await isSignedIn(otherBrowser)).toBe(true);

    const link = await resetLink('grace@example.com');
    const browser = new IpBrowser(f.t.url);
    const page = await openLink(browser, link);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Choose a new password');
    expect(page.body).not.toContain('<script');
    const done = await browser.post(page.form!.action, { ...page.form!.fields, password: NEW_PASSWORD });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Your password is changed');

    expect(await f.t.hub.users.authenticate('grace@example.com', PASSWORD)).toBeUndefined();
    expect(await f.t.hub.users.authenticate('grace@example.com', NEW_PASSWORD)).toBeDefined();
    const refreshed = await postForm(f.t, '/token', 'sales', { grant_type: 'refresh_token', refresh_token: sales.tokens.refresh_token });
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
    expect(await isSignedIn(otherBrowser)).toBe(false);
    expect(await isSignedIn(sales.browser)).toBe(false);

    const user = await f.t.hub.users.get('grace@example.com');
    const events = await eventsOf(f.t, 'user.password_reset', user.id);
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events[0].data)).not.toContain(NEW_PASSWORD);
    expect(events[0].data).toMatchObject({ id: user.id, email: 'grace@example.com' });
    // The link came through the mailbox: the address is verified too.
    expect(user.emailVerified).toBe(true);
    const notice = await f.smtp.waitFor('grace@example.com', (m) => m.subject.includes('password was changed'));
    expect(notice.text).not.toContain(NEW_PASSWORD);

    // The new password signs in through the pages.
    await signInToAccount(new IpBrowser(f.t.url), 'grace@example.com', NEW_PASSWORD);
    // Used: one clear page.
    const again = await openLink(browser, link);
    expect(again.status).toBe(400);
    expect(again.body).toContain('This link no longer works');
  });

  it('changes the password once among 8 parallel posts of one link', async () => {
    const link = await resetLink('race@example.com');
    const browser = new IpBrowser(f.t.url);
    const { form } = await openLink(browser, link);
    const answers = await together(Array.from({ length: 8 }, (_, i) => () => browser.post(form!.action, { ...form!.fields, password: `${NEW_PASSWORD} ${i}` })));
    expect(countStatuses(answers)).toEqual({ 200: 1, 400: 7 });
    const user = await f.t.hub.users.get('race@example.com');
    expect(await eventsOf(f.t, 'user.password_reset', user.id)).toHaveLength(1);
    const winner = answers.findIndex((answer) => answer.status === 200);
    expect(await f.t.hub.users.authenticate('race@example.com', `${NEW_PASSWORD} ${winner}`)).toBeDefined();
  });

  it('keeps the link usable after a password the rules refuse', async () => {
    const link = await resetLink('weak@example.com');
    const browser = new IpBrowser(f.t.url);
    const refused = await pressLink(browser, link, { password: 'short' });
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('at least 10 characters');
    const retried = parseForm(refused.body, '/account/reset');
    const accepted = await browser.post(retried.action, { ...retried.fields, password: NEW_PASSWORD });
    expect(accepted.status).toBe(200);
  });

  it('works for 30 minutes: an expired link answers the one invalid-link page and changes nothing', async () => {
    const link = await resetLink('late@example.com');
    const token = new URL(link).searchParams.get('token')!;
    const row = await f.t.hub.db.prisma.accountToken.findFirstOrThrow({ where: { purpose: 'reset_password', consumedAt: null, user: { email: 'late@example.com' } } });
    expect(row.expiresAt.getTime() - row.createdAt.getTime()).toBeCloseTo(30 * 60_000, -4);
    expect(JSON.stringify(row)).not.toContain(token);
    const browser = new IpBrowser(f.t.url);
    const { form } = await openLink(browser, link);
    await f.t.hub.db.prisma.$executeRaw`UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE id = ${row.id}::uuid`;
    expect((await openLink(browser, link)).status).toBe(400);
    const late = await browser.post(form!.action, { ...form!.fields, password: NEW_PASSWORD });
    expect(late.status).toBe(400);
    expect(await f.t.hub.users.authenticate('late@example.com', PASSWORD)).toBeDefined();
  });

  it('answers unknown and malformed tokens with the same page', async () => {
    const browser = new IpBrowser(f.t.url);
    const pages = await Promise.all(['A'.repeat(43), 'short', '%00'.repeat(43), 'x'.repeat(8000)].map((token) => openLink(browser, `/account/reset?token=${token}`)));
    for (const page of pages) {
      expect(page.status).toBe(400);
      expect(page.body).toContain('This link no longer works');
    }
    expect(mailsTo(f.smtp, 'nobody@example.com', '')).toEqual([]);
  });
});
