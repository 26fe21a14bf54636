// The account center on a phone, in headless Chromium: a person signs up, verifies the address
// with the link from a mail read off a real SMTP server, edits the profile, sees and ends another
// browser's session, creates an API key (shown once), downloads their data and deletes the
// account. Every page is checked the way a phone user meets it: no sideways scrolling, no
// script but the static passkey one, every form carrying its CSRF token. Screenshots of each page land in
// test-artifacts/browser/ (gitignored) as account-*.png.
//
// The steps share one phone page and run in order; when one fails the later ones are skipped.
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestHub, type TestHub } from '../support/hub.js';
import { startSmtp, type TestSmtp } from '../support/smtp.js';
import { CHROMIUM_PATH, hasChromium, launchChromium, screenshot } from './support.js';

const NAME = 'Grace Hopper';
const EMAIL = 'grace.hopper@example.com';
const PASSWORD = 'compiling cobol since 1959';

// An iPhone-sized screen with a phone's user agent, so the sessions list names a phone.
const PHONE = {
  viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-US',
  userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
};
const LAPTOP_AGENT = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

const STEP_TIMEOUT = 120_000;
const NAV_TIMEOUT = 30_000;

if (!hasChromium) console.warn(`[browser tests] skipped: ${CHROMIUM_PATH} is missing (apt-get install -y chromium)`);

/** What every account page must be on a phone; answers the problems found. */
async function phoneProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width) problems.push(`scrolls sideways: ${document.documentElement.scrollWidth}px content in ${width}px`);
    for (const element of Array.from(document.body.querySelectorAll<HTMLElement>('*'))) {
      const box = element.getBoundingClientRect();
      if (box.width > 0 && box.right > width + 1) problems.push(`<${element.tagName.toLowerCase()} class="${element.className}"> ends at ${Math.round(box.right)}px`);
    }
    // The one static passkey script is allowed (the sign-in page loads it); nothing else, nothing inline.
    const scripts = Array.from(document.scripts).filter((script) => new URL(script.src || 'inline:', location.href).pathname !== '/assets/passkeys.js' || script.textContent?.trim());
    if (scripts.length) problems.push(`${scripts.length} script(s) on the page besides /assets/passkeys.js`);
    for (const form of Array.from(document.forms)) {
      if (form.method.toLowerCase() !== 'post') continue;
      const csrf = form.querySelector<HTMLInputElement>('input[name="csrf"]');
      if (!csrf?.value) problems.push(`form to ${form.getAttribute('action')} has no CSRF token`);
    }
    for (const input of Array.from(document.querySelectorAll<HTMLElement>('input:not([type=hidden]), select, button'))) {
      // Below 16px iOS zooms into a focused field; below 24px a control is hard to tap.
      const style = getComputedStyle(input);
      if (input.tagName !== 'BUTTON' && parseFloat(style.fontSize) < 16) problems.push(`#${input.id || input.getAttribute('name')} font ${style.fontSize}`);
      if (input.getBoundingClientRect().height < 24) problems.push(`#${input.id || input.getAttribute('name')} is ${Math.round(input.getBoundingClientRect().height)}px tall`);
    }
    return problems.slice(0, 10);
  });
}

describe.skipIf(!hasChromium)('the account center on a phone in headless Chromium', { timeout: STEP_TIMEOUT }, () => {
  let smtp: TestSmtp | undefined;
  let t: TestHub | undefined;
  let browser: Browser | undefined;
  let phone: BrowserContext | undefined;
  let page: Page | undefined;
  let broken = false;

  const at = (path: string) => (url: URL) => url.origin === t!.url && url.pathname === path;

  function step(name: string, slug: string, body: (page: Page) => Promise<void>) {
    it(name, { timeout: STEP_TIMEOUT }, async (ctx: TestContext) => {
      if (broken) ctx.skip('an earlier step failed');
      ctx.onTestFailed(async () => {
        broken = true;
        const file = await screenshot(page, `FAILED-account-${slug}`);
        if (file) console.error(`[browser tests] "${name}" failed on ${page?.url()}; screenshot: ${file}`);
      });
      await body(page!);
    });
  }

  /** Checks the page as a phone shows it and saves its screenshot. */
  async function looksRightOnAPhone(page: Page, name: string) {
    await screenshot(page, name);
    expect(await phoneProblems(page), `${name} on a phone`).toEqual([]);
  }

  /** Signs in on the hub's own login page the browser has been sent to. */
  async function signIn(page: Page) {
    await page.waitForURL((url) => url.origin === t!.url && /^\/interaction\/[^/]+(\/signed-up)?$/.test(url.pathname));
    await page.locator('#email').fill(EMAIL);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  beforeAll(async () => {
    smtp = await startSmtp();
    t = await startTestHub(smtp.env);
    browser = await launchChromium();
    phone = await browser.newContext(PHONE);
    phone.setDefaultNavigationTimeout(NAV_TIMEOUT);
    phone.setDefaultTimeout(NAV_TIMEOUT);
    page = await phone.newPage();
  }, STEP_TIMEOUT);

  afterAll(async () => {
    const results = await Promise.allSettled([(async () => { await phone?.close(); await browser?.close(); })()]);
    results.push(...await Promise.allSettled([t?.stop(), smtp?.stop()]));
    for (const result of results) if (result.status === 'rejected') console.error('[browser tests] cleanup failed:', result.reason);
  });

  step('1. signs up from /account and verifies the address with the mailed link', 'signup', async (page) => {
    await page.goto(`${t!.url}/account`);
    await page.waitForURL((url) => url.origin === t!.url && url.pathname.startsWith('/interaction/'));
    await looksRightOnAPhone(page, 'account-01-login');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.locator('#name').fill(NAME);
    await page.locator('#email').fill(EMAIL);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL((url) => url.pathname.endsWith('/signed-up'));

    const mail = await smtp!.waitFor(EMAIL, (m) => m.links.some((link) => link.includes('/account/verify?')));
    const link = mail.links.find((l) => l.includes('/account/verify?'))!;
    expect(new URL(link).origin).toBe(t!.url);
    expect(mail.html).toContain(link.replace(/&/g, '&amp;'));
    await page.goto(link);
    // Opening the link changes nothing (mail scanners open links too): the button does.
    await looksRightOnAPhone(page, 'account-02-verify-link');
    expect((await t!.hub.users.findByEmail(EMAIL))?.emailVerified).toBe(false);
    await page.getByRole('button', { name: 'Verify my email address' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Your email address is verified');
    expect((await t!.hub.users.findByEmail(EMAIL))?.emailVerified).toBe(true);
  });

  step('2. signs in to the profile page and changes the name', 'profile', async (page) => {
    await page.getByRole('link', { name: 'Go to your account' }).click();
    await signIn(page);
    await page.waitForURL(at('/account'));
    expect(await page.locator('.email-panel .badge').textContent()).toBe('Verified');
    await looksRightOnAPhone(page, 'account-03-profile');

    await page.locator('#profile-name').fill('Rear Admiral Grace Hopper');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.waitForURL(at('/account'));
    expect(await page.locator('.profile-name').textContent()).toBe('Rear Admiral Grace Hopper');
    expect((await t!.hub.users.findByEmail(EMAIL))?.fullName).toBe('Rear Admiral Grace Hopper');
  });

  step('3. sees a second browser among the sessions and signs it out', 'sessions', async (page) => {
    const laptop = await browser!.newContext({ userAgent: LAPTOP_AGENT, viewport: { width: 1280, height: 800 } });
    try {
      const other = await laptop.newPage();
      await other.goto(`${t!.url}/account`);
      await signIn(other);
      await other.waitForURL(at('/account'));

      await page.goto(`${t!.url}/account/security`);
      const sessions = page.locator('form[action^="/account/sessions/"][action$="/revoke"]');
      await expect.poll(() => sessions.count()).toBe(2);
      const text = await page.textContent('main');
      expect(text).toMatch(/Safari/);
      expect(text).toMatch(/Firefox/);
      await looksRightOnAPhone(page, 'account-04-security');

      await page.getByRole('button', { name: 'Sign out everywhere else' }).click();
      await page.waitForURL(at('/account/security'));
      await expect.poll(() => sessions.count()).toBe(1);
      // The laptop is signed out: its next visit to the account center asks it to sign in.
      await other.goto(`${t!.url}/account`);
      await other.waitForURL((url) => url.pathname.startsWith('/interaction/'));
      expect(await other.locator('#password').isVisible()).toBe(true);
    } finally {
      await laptop.close();
    }
  });

  step('4. creates an API key, shown once, and revokes it', 'keys', async (page) => {
    await page.goto(`${t!.url}/account/keys`);
    await page.locator('#key-name').fill('phone notebook');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = await page.locator('#new-key').inputValue();
    expect(key).toMatch(/^nxk_(live|test)_/);
    expect(page.url()).not.toContain(key);
    await looksRightOnAPhone(page, 'account-05-key-created');

    await page.goto(`${t!.url}/account/keys`);
    expect(await page.locator('#new-key').count()).toBe(0);
    expect(await page.content()).not.toContain(key);
    await page.getByRole('button', { name: 'Revoke phone notebook' }).click();
    await page.waitForURL(at('/account/keys'));
    const keys = await t!.hub.db.prisma.apiKey.findMany({ where: { user: { email: EMAIL } } });
    expect(keys.map((k) => k.revokedAt !== null)).toEqual([true]);
  });

  step('5. the connected apps page', 'apps', async (page) => {
    await page.goto(`${t!.url}/account/apps`);
    expect(await page.locator('h1').textContent()).toBeTruthy();
    await looksRightOnAPhone(page, 'account-06-apps');
  });

  step('6. downloads the data and deletes the account', 'data', async (page) => {
    await page.goto(`${t!.url}/account/data`);
    await looksRightOnAPhone(page, 'account-07-data');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Download my data/ }).click()]);
    const exported = JSON.parse(await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString()));
    expect(JSON.stringify(exported)).toContain(EMAIL);
    expect(JSON.stringify(exported)).not.toMatch(/\$2[aby]\$/);

    await page.locator('#delete-confirm').fill(EMAIL);
    await page.locator('#delete-password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await expect.poll(() => t!.hub.users.findByEmail(EMAIL)).toBeNull();
    await looksRightOnAPhone(page, 'account-08-deleted');
    await page.goto(`${t!.url}/account`);
    await page.waitForURL((url) => url.pathname.startsWith('/interaction/'));
  });
});
