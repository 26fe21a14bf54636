// Moving an account to a new address: asked for with the current password from /account, the new
// address confirms with its link (button page + post), the old one gets a notice; a taken
// address, a wrong password and stale links change nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countStatuses, eventsOf, IpBrowser, linkIn, openLink, PASSWORD, pressLink, signInToAccount, startFlowHub, together, type FlowHub } from './support.js';
import { parseForm, type Browser } from '../support/browser.js';
import { EMAIL_LIMITS } from '../../src/account-center/email-limits.js';

let f: FlowHub;
beforeAll(async () => {
  f = await startFlowHub();
  for (const email of ['ada@example.com', 'grace@example.com', 'alan@example.com', 'taken@example.com', 'edsger@example.com']) {
    await f.t.hub.users.create({ email, password: PASSWORD });
  }
});
afterAll(() => f?.stop());

/** A signed-in browser at /account, and a way to post its change-of-email form. */
async function accountOf(email: string) {
  const browser = new IpBrowser(f.t.url);
  const page = await signInToAccount(browser, email);
  const form = parseForm(page.body, '/account/email');
  expect(form.action).toBe('/account/email');
  const change = async (newEmail: string, password = PASSWORD) => {
    const response = await browser.post(form.action, { ...form.fields, email: newEmail, password });
    return { status: response.status, body: await response.text(), response };
  };
  return { browser, change };
}

const confirmLink = async (to: string) => linkIn(await f.smtp.waitFor(to, (m) => m.subject.includes('Confirm your new email')), '/account/email/confirm');

describe('change of email address', () => {
  it('moves the account when the new address confirms it; the old address hears of it first', async () => {
    const ada = await f.t.hub.users.get('ada@example.com');
    const { change } = await accountOf('ada@example.com');
    const asked = await change('Ada.Lovelace@Example.org');
    expect(asked.status).toBe(200);
    expect(asked.body).toContain('We sent a link to ada.lovelace@example.org');

    const notice = await f.smtp.waitFor('ada@example.com', (m) => m.subject.includes('change of your'));
    expect(notice.text).toContain('ada.lovelace@example.org');
    expect(notice.links.some((link) => link.includes('token='))).toBe(false);
    const link = await confirmLink('ada.lovelace@example.org');
    expect((await f.t.hub.users.get('ada@example.com')).id).toBe(ada.id); // nothing until the link

    const browser = new IpBrowser(f.t.url);
    const page = await openLink(browser, link);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Use this address');
    const pressed = await browser.post(page.form!.action, page.form!.fields);
    expect(pressed.status).toBe(200);
    expect(await pressed.text()).toContain('now uses ada.lovelace@example.org');

    const moved = await f.t.hub.users.get('ada.lovelace@example.org');
    expect(moved).toMatchObject({ id: ada.id, emailVerified: true });
    expect(await f.t.hub.users.findByEmail('ada@example.com')).toBeNull();
    const [updated] = await eventsOf(f.t, 'user.updated', ada.id);
    expect(updated.data).toMatchObject({ email: 'ada.lovelace@example.org', previousEmail: 'ada@example.com', changed: ['email'], emailVerified: true });
    expect(await eventsOf(f.t, 'user.email_verified', ada.id)).toHaveLength(1);
    await signInToAccount(new IpBrowser(f.t.url), 'ada.lovelace@example.org');

    expect((await openLink(browser, link)).status).toBe(400);
  });

  it(`asks for the current password and a usable address, ${EMAIL_LIMITS.change.perSubject} times an hour`, async () => {
    const { change } = await accountOf('grace@example.com');
    const wrong = await change('grace@example.net', 'not my password at all');
    expect(wrong.status).toBe(400);
    expect(wrong.body).toContain('current password is not correct');
    for (const bad of ['grace\u200b@example.net', 'grace\u0000@example.net', 'x'.repeat(300) + '@example.net', 'grace@example.com']) {
      expect((await change(bad)).status).toBe(400);
    }
    // Each try counts, a wrong password too: a stolen session cannot guess the password here.
    const limited = await change('grace@example.net');
    expect(limited.status).toBe(429);
    expect(Number(limited.response.headers.get('retry-after'))).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(f.smtp.messages.filter((m) => m.to.includes('grace@example.net'))).toEqual([]);
  });

  it('answers a taken address like a free one; its link then says the address is in use', async () => {
    const alan = await f.t.hub.users.get('alan@example.com');
    const { change } = await accountOf('alan@example.com');
    const asked = await change('taken@example.com');
    expect(asked.status).toBe(200);
    expect(asked.body).toContain('We sent a link to taken@example.com');
    const refused = await pressLink(new IpBrowser(f.t.url), await confirmLink('taken@example.com'));
    expect(refused.status).toBe(409);
    expect(refused.body).toContain('This address is already in use');
    expect(await f.t.hub.users.get('alan@example.com')).toMatchObject({ id: alan.id });
    expect(await eventsOf(f.t, 'user.updated', alan.id)).toEqual([]);
  });

  it('moves the account once among 8 parallel posts of one link; the links mailed to the old address stop working', async () => {
    const edsger = await f.t.hub.users.get('edsger@example.com');
    // A reset link mailed to the address the account is about to leave.
    const forgot = new IpBrowser(f.t.url);
    const forgotPage = parseForm((await forgot.follow(await forgot.get('/account/forgot'))).body, '/account/forgot');
    await forgot.post(forgotPage.action, { ...forgotPage.fields, email: 'edsger@example.com' });
    const reset = linkIn(await f.smtp.waitFor('edsger@example.com', (m) => m.subject.includes('new password')), '/account/reset');

    const { change } = await accountOf('edsger@example.com');
    expect((await change('dijkstra@example.org')).status).toBe(200);
    const link = await confirmLink('dijkstra@example.org');
    const browser: Browser = new IpBrowser(f.t.url);
    const { form } = await openLink(browser, link);
    const answers = await together(Array.from({ length: 8 }, () => () => browser.post(form!.action, form!.fields)));
    expect(countStatuses(answers)).toEqual({ 200: 1, 400: 7 });
    expect(await eventsOf(f.t, 'user.updated', edsger.id)).toHaveLength(1);
    expect((await openLink(browser, reset)).status).toBe(400);
  });

  it('needs the session and its CSRF token', async () => {
    expect((await new IpBrowser(f.t.url).post('/account/email', { csrf: 'x', email: 'a@b.example', password: PASSWORD })).status).toBe(401);
    const browser = new IpBrowser(f.t.url);
    await signInToAccount(browser, 'grace@example.com');
    expect((await browser.post('/account/email', { csrf: 'forged', email: 'a@b.example', password: PASSWORD })).status).toBe(403);
  });
});
