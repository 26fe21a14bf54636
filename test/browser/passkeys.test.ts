// Passkeys in a real browser: headless Chromium with a virtual authenticator (Chrome DevTools
// Protocol WebAuthn domain: CTAP2, internal transport, resident keys, user verification). A person
// signs up through examples/sales, registers a passkey on /account/passkeys, signs out, signs in
// again with the passkey alone (no password), then with the password and the passkey as the
// second factor. The access token the project holds says how (`amr`). The pages that carry the
// passkey script are checked for their CSP (`script-src 'self'` only) and for inline scripts.
// Screenshots: test-artifacts/browser/passkeys-*.png.
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { decodeJwt } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { createSalesApp } from '../../examples/sales/server.js';
import { closeServer, CHROMIUM_PATH, hasChromium, launchChromium, listenOnRegisteredPort, screenshot } from './support.js';

const APP_PORT = 3001;
const APP = `http://localhost:${APP_PORT}`;
const NAME = 'Katherine Johnson';
const EMAIL = 'katherine.johnson@example.com';
const PASSWORD = 'orbital mechanics 1962';
const PASSKEY_NAME = 'Chromium virtual key';

const STEP_TIMEOUT = 120_000;
const NAV_TIMEOUT = 30_000;

if (!hasChromium) console.warn(`[browser tests] skipped: ${CHROMIUM_PATH} is missing (apt-get install -y chromium)`);

/** The CSP of a page that loads the passkey script: scripts only from the hub, nothing inline. */
function expectScriptPolicy(response: Response | null) {
  const csp = response?.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("default-src 'none'");
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|nonce-|sha256-/);
}

/** Every script of the page is the one static file; none is inline, no element has an on* handler. */
async function expectOnlyTheStaticScript(page: Page, origin: string) {
  const found = await page.evaluate(() => ({
    scripts: Array.from(document.scripts).map((script) => ({ src: script.src, inline: script.textContent?.trim() ?? '' })),
    handlers: Array.from(document.querySelectorAll('*')).flatMap((element) => element.getAttributeNames().filter((name) => name.startsWith('on'))),
  }));
  expect(found.scripts.length).toBeGreaterThan(0);
  for (const script of found.scripts) {
    expect(script.src).toBe(`${origin}/assets/passkeys.js`);
    expect(script.inline).toBe('');
  }
  expect(found.handlers).toEqual([]);
}

describe.skipIf(!hasChromium)('passkeys in headless Chromium with a virtual authenticator', { timeout: STEP_TIMEOUT }, () => {
  let t: TestHub | undefined;
  let app: http.Server | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let broken = false;
  let authenticatorId = '';
  /** Whether the virtual authenticator answers by itself (a person touching it) or waits. */
  let presence: (enabled: boolean) => Promise<void> = async () => {};

  const isApp = (path: string) => (url: URL) => url.origin === APP && url.pathname === path;
  const isHub = (pattern: RegExp) => (url: URL) => url.origin === t!.url && pattern.test(url.pathname);

  function step(name: string, slug: string, body: (page: Page) => Promise<void>) {
    it(name, { timeout: STEP_TIMEOUT }, async (ctx: TestContext) => {
      if (broken) ctx.skip('an earlier step failed');
      ctx.onTestFailed(async () => {
        broken = true;
        const file = await screenshot(page, `FAILED-passkeys-${slug}`);
        if (file) console.error(`[browser tests] "${name}" failed on ${page?.url()}; screenshot: ${file}`);
      });
      await body(page!);
    });
  }

  /** The `amr` of the access token the project holds for the browser. */
  async function amrAtTheProject(): Promise<string[]> {
    const token = (await context!.cookies(APP)).find((cookie) => cookie.name === 'nexus_token');
    expect(token, 'the project holds an access token').toBeDefined();
    return (decodeJwt(token!.value).amr ?? []) as string[];
  }

  beforeAll(async () => {
    t = await startTestHub();
    const salesApp = createSalesApp({ issuer: t.url, port: APP_PORT, clientSecret: t.secrets.sales, cookieSecret: 'sales-example-cookie-secret-for-the-passkey-test' });
    app = await listenOnRegisteredPort(salesApp.callback(), APP_PORT);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1024, height: 768 }, locale: 'en-US' });
    context.setDefaultNavigationTimeout(NAV_TIMEOUT);
    context.setDefaultTimeout(NAV_TIMEOUT);
    page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    }));
    presence = async (enabled) => { await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled }); };
  }, STEP_TIMEOUT);

  afterAll(async () => {
    const results = await Promise.allSettled([(async () => { await context?.close(); await browser?.close(); })(), closeServer(app)]);
    const hubStopped = await Promise.allSettled([t?.stop()]);
    for (const result of [...results, ...hubStopped]) if (result.status === 'rejected') console.error('[browser tests] cleanup failed:', result.reason);
  });

  step('1. signs up through the sales project and signs in with the password', 'signup', async (page) => {
    await page.goto(`${APP}/login`);
    await page.waitForURL(isHub(/^\/interaction\/[^/]+$/));
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.locator('#name').fill(NAME);
    await page.locator('#email').fill(EMAIL);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(isHub(/\/signed-up$/));
    await page.locator('#email').fill(EMAIL);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(isApp('/'));
    expect(await amrAtTheProject()).toContain('pwd');
  });

  step('2. registers a passkey on /account/passkeys', 'register', async (page) => {
    const response = await page.goto(`${t!.url}/account/passkeys`);
    await page.waitForURL(isHub(/^\/account\/passkeys$/));
    expectScriptPolicy(response);
    await expectOnlyTheStaticScript(page, t!.url);
    await page.locator('#passkey-name').fill(PASSKEY_NAME);
    await screenshot(page, 'passkeys-01-add');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL((url) => url.pathname === '/account/passkeys' && url.searchParams.get('done') === 'added');
    await expect.poll(() => page.locator('.passkey-item .key-name').allTextContents()).toEqual([PASSKEY_NAME]);
    expect(await page.textContent('.passkey-item')).toContain('This device only');
    await screenshot(page, 'passkeys-02-listed');
    // On a phone: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    await screenshot(page, 'passkeys-02-listed-phone');
    await page.setViewportSize({ width: 1024, height: 768 });
    const rows = await t!.hub.db.prisma.passkey.findMany({ include: { user: true } });
    expect(rows.map((row) => [row.user.email, row.name, row.deviceType])).toEqual([[EMAIL, PASSKEY_NAME, 'singleDevice']]);
  });

  step('3. signs out, then signs in to sales with the passkey alone', 'passwordless', async (page) => {
    await context!.clearCookies();
    // Held back until the page is checked: the autofill request (conditional UI) starts at load.
    await presence(false);
    const login = page.waitForResponse((answer) => /\/interaction\/[^/]+$/.test(new URL(answer.url()).pathname) && answer.request().method() === 'GET');
    await page.goto(`${APP}/login`);
    await page.waitForURL(isHub(/^\/interaction\/[^/]+$/));
    expectScriptPolicy(await login);
    await expectOnlyTheStaticScript(page, t!.url);
    expect(await page.locator('#email').getAttribute('autocomplete')).toBe('username webauthn');
    await screenshot(page, 'passkeys-03-login');
    // The authenticator now answers, as a person choosing the passkey the browser offers would.
    await presence(true);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click().catch(() => { /* the autofill request may have finished first */ });
    await page.waitForURL(isApp('/'));
    expect(await page.locator('#user-name').textContent()).toBe(NAME);
    // A device-bound, user-verified passkey: a hardware key, and two factors on its own.
    expect(await amrAtTheProject()).toEqual(['hwk', 'mfa']);
    await screenshot(page, 'passkeys-04-app-after-passkey');
    const used = await t!.hub.db.prisma.passkey.findFirstOrThrow();
    expect(used.lastUsedAt).not.toBeNull();
    expect(Number(used.counter)).toBeGreaterThan(0);
  });

  step('4. signs in with the password, then the passkey as the second factor', 'second-factor', async (page) => {
    await context!.clearCookies();
    // The person types a password instead of picking the passkey the email field offers.
    await presence(false);
    await page.goto(`${APP}/login`);
    await page.waitForURL(isHub(/^\/interaction\/[^/]+$/));
    await page.locator('#email').fill(EMAIL);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Use a passkey' }).isVisible()).toBe(true);
    await expectOnlyTheStaticScript(page, t!.url);
    await screenshot(page, 'passkeys-05-second-factor');
    await presence(true);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL(isApp('/'));
    expect((await amrAtTheProject()).sort()).toEqual(['hwk', 'mfa', 'pwd']);
  });
});
