// Email verification through the real pages and a real SMTP server: the sign-up mail, the link's
// button page (a prefetch spends nothing), single use under 8 parallel posts, expired and reused
// links, the enumeration-free sign-up, the resend from the account page and its limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countStatuses, eventsOf, IpBrowser, linkIn, mailsTo, openLink, pressLink, signInToAccount, signUp, startFlowHub, together, type FlowHub,
} from './support.js';
import { parseForm } from '../support/browser.js';
import { EMAIL_LIMITS } from '../../src/account-center/email-limits.js';

let f: FlowHub;
beforeAll(async () => {
  f = await startFlowHub();
  await f.t.hub.users.create({ email: 'ada@example.com', password: 'correct horse battery', fullName: 'Ada Lovelace' });
});
afterAll(() => f?.stop());

const user = (email: string) => f.t.hub.users.get(email);

async function signedUpLink(email: string) {
  const { response } = await signUp(f.t, email);
  expect(response.status).toBe(303);
  const mail = await f.smtp.waitFor(email, (m) => m.subject.includes('Verify'));
  return linkIn(mail, '/account/verify');
}

describe('sign-up mails a verification link', () => {
  it('verifies the address only when the button of the link page is pressed, once', async () => {
    const link = await signedUpLink('grace@example.com');
    expect(link.startsWith(`${f.t.url}/account/verify?token=`)).toBe(true);
    const browser = new IpBrowser(f.t.url);

    // A mail scanner's GET (twice) shows the page and changes nothing.
    for (let i = 0; i < 2; i++) {
      const page = await openLink(browser, link);
      expect(page.status).toBe(200);
      expect(page.body).toContain('Verify my email address');
      expect(page.body).not.toContain('<script');
      expect(page.form!.fields.csrf).toBeTruthy();
    }
    expect((await user('grace@example.com')).emailVerified).toBe(false);

    const pressed = await pressLink(browser, link);
    expect(pressed.status).toBe(200);
    expect(pressed.body).toContain('Your email address is verified');
    const verified = await user('grace@example.com');
    expect(verified.emailVerified).toBe(true);
    const events = await eventsOf(f.t, 'user.email_verified', verified.id);
    expect(events).toHaveLength(1);
    expect(events[0].data).toMatchObject({ id: verified.id, email: 'grace@example.com', emailVerified: true });
    expect(JSON.stringify(events[0].data)).not.toContain(new URL(link).searchParams.get('token'));

    // Used: the page and a replayed post both answer the one invalid-link page.
    const again = await openLink(browser, link);
    expect(again.status).toBe(400);
    expect(again.body).toContain('This link no longer works');
    expect((await eventsOf(f.t, 'user.email_verified', verified.id))).toHaveLength(1);
  });

  it('spends a link once among 8 parallel posts of its button', async () => {
    const link = await signedUpLink('parallel@example.com');
    const browser = new IpBrowser(f.t.url);
    const { form } = await openLink(browser, link);
    const answers = await together(Array.from({ length: 8 }, () => () => browser.post(form!.action, form!.fields)));
    expect(countStatuses(answers)).toEqual({ 200: 1, 400: 7 });
    const verified = await user('parallel@example.com');
    expect(verified.emailVerified).toBe(true);
    expect(await eventsOf(f.t, 'user.email_verified', verified.id)).toHaveLength(1);
  });

  it('refuses an expired link with the same page, and verifies nothing', async () => {
    const link = await signedUpLink('late@example.com');
    const account = await user('late@example.com');
    await f.t.hub.db.prisma.$executeRaw`UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE user_id = ${account.id}::uuid`;
    const browser = new IpBrowser(f.t.url);
    const page = await openLink(browser, link);
    expect(page.status).toBe(400);
    expect(page.body).toContain('This link no longer works');
    // Posting the form anyway (a page kept open past the expiry).
    const token = new URL(link).searchParams.get('token')!;
    const fresh = await signedUpLink('late-twin@example.com');
    const { form } = await openLink(browser, fresh);
    const stale = await browser.post('/account/verify', { ...form!.fields, token });
    expect(stale.status).toBe(400);
    expect((await user('late@example.com')).emailVerified).toBe(false);
  });

  it('stores only the hash of the token', async () => {
    const link = await signedUpLink('hashed@example.com');
    const token = new URL(link).searchParams.get('token')!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = await f.t.hub.db.prisma.accountToken.findMany({ where: { userId: (await user('hashed@example.com')).id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ purpose: 'verify_email', email: 'hashed@example.com' });
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(rows[0].expiresAt.getTime() - rows[0].createdAt.getTime()).toBeCloseTo(24 * 3600_000, -4);
  });

  it('answers a registered address exactly like a new one, and mails its owner a notice instead', async () => {
    const registered = await signUp(f.t, 'ada@example.com');
    const fresh = await signUp(f.t, 'newcomer@example.com');
    const mask = (text: string, form: { action: string; fields: Record<string, string> }) => text.replaceAll(form.action.split('/')[2], 'UID').replaceAll(form.fields.csrf, 'CSRF');
    expect(registered.response.status).toBe(303);
    expect(fresh.response.status).toBe(303);
    expect(mask(registered.body, registered.form)).toBe(mask(fresh.body, fresh.form));
    const pages = await Promise.all([registered, fresh].map(async ({ browser, response, form }) => {
      const page = await browser.follow(response);
      return { status: page.response.status, body: mask(page.body, form) };
    }));
    expect(pages[0]).toEqual(pages[1]);

    const notice = await f.smtp.waitFor('ada@example.com', (m) => m.subject.includes('tried to sign up'));
    expect(notice.text).toContain('nothing was changed');
    expect(notice.links).toContain(`${f.t.url}/account/forgot`);
    await f.smtp.waitFor('newcomer@example.com', (m) => m.subject.includes('Verify'));
    expect(mailsTo(f.smtp, 'ada@example.com', 'Verify')).toHaveLength(0);
    expect((await user('ada@example.com')).emailVerified).toBe(false);
  });
});

describe('resending the link from the account page', () => {
  it('sends a new link (the older one stops working) to a signed-in, unverified user', async () => {
    const first = await signedUpLink('resend@example.com');
    const browser = new IpBrowser(f.t.url);
    const account = await signInToAccount(browser, 'resend@example.com');
    const { action, fields: { csrf } } = parseForm(account.body, '/account/verification/resend');
    expect(action).toBe('/account/verification/resend');
    const sent = await browser.post('/account/verification/resend', { csrf });
    expect(sent.status).toBe(200);
    expect(await sent.text()).toContain('We sent a new verification link to resend@example.com');
    const mails = await waitForCount('resend@example.com', 'Verify', 2);
    const second = linkIn(mails[1], '/account/verify');
    expect(second).not.toBe(first);
    expect((await openLink(browser, first)).status).toBe(400);
    expect((await pressLink(browser, second)).status).toBe(200);

    // Verified: nothing more to send.
    const nothing = await browser.post('/account/verification/resend', { csrf });
    expect(nothing.status).toBe(200);
    expect(await nothing.text()).toContain('already verified');
  });

  it('needs the session and its CSRF token', async () => {
    const anonymous = await new IpBrowser(f.t.url).post('/account/verification/resend', { csrf: 'x' });
    expect(anonymous.status).toBe(401);
    const browser = new IpBrowser(f.t.url);
    await signInToAccount(browser, 'ada@example.com');
    const forged = await browser.post('/account/verification/resend', { csrf: 'forged' });
    expect(forged.status).toBe(403);
  });

  it(`allows ${EMAIL_LIMITS.resend.perSubject} resends an hour per user, also under 8 parallel posts (429 + Retry-After)`, async () => {
    await signedUpLink('eager@example.com');
    const browser = new IpBrowser(f.t.url);
    const account = await signInToAccount(browser, 'eager@example.com');
    const { csrf } = parseForm(account.body, '/account/verification/resend').fields;
    const answers = await together(Array.from({ length: 8 }, () => () => browser.post('/account/verification/resend', { csrf })));
    expect(countStatuses(answers)).toEqual({ 200: EMAIL_LIMITS.resend.perSubject, 429: 8 - EMAIL_LIMITS.resend.perSubject });
    const refused = answers.find((answer) => answer.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.text()).toContain('Too many mails were asked for');
    await waitForCount('eager@example.com', 'Verify', 1 + EMAIL_LIMITS.resend.perSubject);
  });
});

async function waitForCount(to: string, subject: string, count: number) {
  for (let i = 0; i < 100; i++) {
    const mails = mailsTo(f.smtp, to, subject);
    if (mails.length >= count) return mails;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${to} did not get ${count} "${subject}" mails (got ${mailsTo(f.smtp, to, subject).length})`);
}
