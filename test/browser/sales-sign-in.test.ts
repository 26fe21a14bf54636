// A person in a real browser (headless Chromium via playwright-core) signs up, uses, signs out of
// and signs back in to the example project examples/sales/server.ts, which signs in through a
// real hub with the SDK. Everything is real: the hub's pages, its cookies, its CSP, redirects
// across two origins, the SDK's encrypted session cookies and its bearer check of /api/leads.
//
// The steps share one browser page and run in order; when one fails the later ones are skipped.
// Screenshots of every important page land in test-artifacts/browser/ (gitignored).
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestHub, type TestHub } from '../support/hub.js';
import { createSalesApp } from '../../examples/sales/server.js';
import { closeServer, CHROMIUM_PATH, hasChromium, launchChromium, listenOnRegisteredPort, screenshot } from './support.js';

// The sales client is registered at the hub with http://localhost:3001/auth/callback and the
// post-logout URI http://localhost:3001/, so the example must run exactly there.
const APP_PORT = 3001;
const APP = `http://localhost:${APP_PORT}`;

const NAME = 'Ada Lovelace';
const EMAIL = 'ada.lovelace@example.com';
const PASSWORD = 'analytical engine 1843';

const STEP_TIMEOUT = 120_000;
const NAV_TIMEOUT = 30_000;

if (!hasChromium) console.warn(`[browser tests] skipped: ${CHROMIUM_PATH} is missing (apt-get install -y chromium)`);

describe.skipIf(!hasChromium)('Sales example in headless Chromium: sign up, API, sign out, sign in', { timeout: STEP_TIMEOUT }, () => {
  let t: TestHub | undefined;
  let app: http.Server | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  /** Main-frame documents the page committed, in order (redirects in between are not documents). */
  const visited: string[] = [];
  let broken = false;

  const isApp = (path: string) => (url: URL) => url.origin === APP && url.pathname === path;
  const hubLoginPage = () => new RegExp(`^${escapeRegExp(t!.url)}/interaction/[^/?#]+$`);
  const hubSignupPage = () => new RegExp(`^${escapeRegExp(t!.url)}/interaction/[^/?#]+/signup$`);
  const hubSignedUpPage = () => new RegExp(`^${escapeRegExp(t!.url)}/interaction/[^/?#]+/signed-up$`);

  /** Runs one step: skipped after an earlier failure, screenshot of the page if it fails. */
  function step(name: string, slug: string, body: (page: Page) => Promise<void>) {
    it(name, { timeout: STEP_TIMEOUT }, async (ctx: TestContext) => {
      if (broken) ctx.skip('an earlier step failed');
      ctx.onTestFailed(async () => {
        broken = true;
        const file = await screenshot(page, `FAILED-${slug}`);
        if (file) console.error(`[browser tests] "${name}" failed on ${page?.url()}; screenshot: ${file}`);
      });
      await body(page!);
    });
  }

  beforeAll(async () => {
    t = await startTestHub();
    const salesApp = createSalesApp({
      issuer: t.url, port: APP_PORT, clientSecret: t.secrets.sales, cookieSecret: 'sales-example-cookie-secret-for-the-browser-test',
    });
    app = await listenOnRegisteredPort(salesApp.callback(), APP_PORT);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1024, height: 768 }, locale: 'en-US' });
    context.setDefaultNavigationTimeout(NAV_TIMEOUT);
    context.setDefaultTimeout(NAV_TIMEOUT);
    page = await context.newPage();
    page.on('framenavigated', (frame) => { if (frame === page!.mainFrame()) visited.push(frame.url()); });
  }, STEP_TIMEOUT);

  afterAll(async () => {
    // Each one even when an earlier one fails: nothing may outlive the test file.
    const results = await Promise.allSettled([
      (async () => { await context?.close(); await browser?.close(); })(),
      closeServer(app),
    ]);
    const hubStopped = await Promise.allSettled([t?.stop()]);
    for (const result of [...results, ...hubStopped]) {
      if (result.status === 'rejected') console.error('[browser tests] cleanup failed:', result.reason);
    }
  }, STEP_TIMEOUT);

  step('1. signs up on the hub from the app and comes back signed in with the name', 'signup', async (page) => {
    await page.goto(`${APP}/`);
    await expect.poll(() => page.locator('#login').count()).toBe(1);

    await page.locator('#login').click();
    await page.waitForURL(hubLoginPage());
    await expect.poll(() => page.locator('h1').textContent()).toBe('Sign in');
    expect(await page.locator('#email').isVisible()).toBe(true);
    expect(await page.locator('#password').isVisible()).toBe(true);
    expect(await page.textContent('body')).toContain('Nexus Sales CRM'); // "Sign in to continue to ..."
    await screenshot(page, '01-hub-login-page');

    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.waitForURL(hubSignupPage());
    await page.locator('#name').fill(NAME);
    await page.locator('#email').fill(EMAIL);
    await page.locator('#password').fill(PASSWORD);
    await screenshot(page, '02-hub-signup-filled');

    await page.getByRole('button', { name: 'Create account' }).click();
    // Sign-up answers every address alike (no enumeration), so it does not sign in by itself.
    await page.waitForURL(hubSignedUpPage());
    await page.locator('#email').fill(EMAIL);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(isApp('/'));
    expect(page.url()).toBe(`${APP}/`);
    expect(await page.locator('#user-name').textContent()).toBe(NAME);
    expect(await page.locator('h1').textContent()).toBe(`Welcome, ${NAME}`);
    expect(await page.textContent('body')).toContain(EMAIL);
    // First-party project: no consent page between sign-up and the app.
    expect(visited.some((url) => url.includes('/consent'))).toBe(false);
    await screenshot(page, '03-app-signed-in');

    // The SDK keeps the session and the access token in cookies the page's scripts cannot read.
    const cookies = await context!.cookies(APP);
    for (const name of ['nexus_session', 'nexus_token']) {
      const cookie = cookies.find((c) => c.name === name);
      expect(cookie, `cookie ${name}`).toBeDefined();
      expect(cookie!.httpOnly, `${name} httpOnly`).toBe(true);
      expect(cookie!.sameSite, `${name} sameSite`).toBe('Lax');
    }
    expect(cookies.find((c) => c.name === 'nexus_signin'), 'the sign-in transaction cookie is cleared').toBeUndefined();
  });

  step('2. /api/leads answers 200 with the session cookie and 401 without it', 'api', async (page) => {
    const signedIn = await page.request.get(`${APP}/api/leads`);
    expect(signedIn.status()).toBe(200);
    expect(signedIn.headers()['content-type']).toMatch(/^application\/json/);
    const body = await signedIn.json() as { owner: string; leads: { id: number; company: string }[] };
    expect(body.owner).toBe(EMAIL);
    expect(body.leads.map((lead) => lead.company)).toEqual(['Acme Robotics', 'Globex']);

    // The browser itself, navigating in a tab of the same context, sends the cookie as well.
    const tab = await context!.newPage();
    try {
      const navigation = await tab.goto(`${APP}/api/leads`);
      expect(navigation?.status()).toBe(200);
      expect(await navigation!.json()).toMatchObject({ owner: EMAIL });
      await screenshot(tab, '04-app-api-leads');
    } finally {
      await tab.close();
    }

    const anonymous = await browser!.newContext();
    try {
      const denied = await anonymous.request.get(`${APP}/api/leads`);
      expect(denied.status()).toBe(401);
      expect(denied.headers()['content-type']).toMatch(/^application\/json/);
      expect(denied.headers()['www-authenticate']).toMatch(/^Bearer realm="nexus"/);
      expect(await denied.json()).toMatchObject({ error: 'invalid_token' });
      expect(JSON.stringify(await denied.json())).not.toContain('Acme');
    } finally {
      await anonymous.close();
    }

    // Control for step 4: while the hub session lives, signing in again needs no page at all.
    const before = visited.length;
    await page.goto(`${APP}/login`);
    await page.waitForURL(isApp('/'));
    expect(await page.locator('#user-name').textContent()).toBe(NAME);
    expect(visited.slice(before).filter((url) => url.startsWith(t!.url)), 'no hub page shown while signed in at the hub').toEqual([]);
  });

  step('3. signs out: the hub asks to confirm, then the app shows the sign-in link', 'logout', async (page) => {
    await page.locator('#logout').click();
    await page.waitForURL((url) => url.origin === t!.url && url.pathname === '/session/end');
    await expect.poll(() => page.locator('h1').textContent()).toBe('Sign out of Nexus?');
    expect(await page.textContent('body')).toContain('Nexus Sales CRM'); // "... asked to sign you out."
    await screenshot(page, '05-hub-logout-confirmation');

    // The app already dropped its own session when it sent the browser to the hub.
    expect((await context!.cookies(APP)).map((c) => c.name)).not.toContain('nexus_session');

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(isApp('/'));
    expect(await page.locator('#login').isVisible()).toBe(true);
    expect(await page.locator('#user-name').count()).toBe(0);
    expect(await page.locator('#logout').count()).toBe(0);
    await screenshot(page, '06-app-signed-out');

    expect((await page.request.get(`${APP}/api/leads`)).status()).toBe(401);
  });

  step('4. the hub session ended too: the login page shows, and signing in with the password works', 'login-again', async (page) => {
    await page.locator('#login').click();
    await page.waitForURL(hubLoginPage());
    await expect.poll(() => page.locator('h1').textContent()).toBe('Sign in');
    expect(await page.locator('#email').isVisible()).toBe(true);
    expect(await page.locator('#password').isVisible()).toBe(true);
    await screenshot(page, '07-hub-login-after-logout');

    await page.locator('#email').fill(EMAIL);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(isApp('/'));
    expect(await page.locator('#user-name').textContent()).toBe(NAME);
    await screenshot(page, '08-app-signed-in-again');

    const leads = await page.request.get(`${APP}/api/leads`);
    expect(leads.status()).toBe(200);
    expect((await leads.json() as { owner: string }).owner).toBe(EMAIL);
  });
});

function escapeRegExp(text: string) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
