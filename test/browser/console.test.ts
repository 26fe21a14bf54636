// The admin console in headless Chromium: the hub administrator signs in through the
// nexus-console client, disables a user and rotates a project's secret through the pages; a
// user without the role is refused; the dashboard (server-drawn SVG, no script) is captured at
// phone (390 px) and desktop (1280 px) width as test-artifacts/browser/console-dashboard-*.png,
// and the desktop one is copied to docs/console-dashboard.png for the README.
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startTestHub, type TestHub } from '../support/hub.js';
import { basicAuth } from '../support/oauth.js';
import { PASSWORD } from '../billing/support.js';
import { consoleUser, seedAnalytics } from '../console/support.js';
import { CHROMIUM_PATH, hasChromium, launchChromium, screenshot } from './support.js';

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-US' };
const DESKTOP = { viewport: { width: 1280, height: 900 }, locale: 'en-US' };
const DOCS_SCREENSHOT = new URL('../../docs/console-dashboard.png', import.meta.url);

if (!hasChromium) console.warn(`[browser tests] skipped: ${CHROMIUM_PATH} is missing (apt-get install -y chromium)`);

/** Sideways scrolling of the page itself, scripts, and POST forms without their CSRF token. */
function pageProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width) problems.push(`scrolls sideways: ${document.documentElement.scrollWidth}px in ${width}px`);
    // Tables scroll inside their own .table-wrap; nothing else may stick out of the screen.
    for (const element of Array.from(document.body.querySelectorAll<HTMLElement>('*'))) {
      if (element.parentElement?.closest('.table-wrap')) continue;
      const box = element.getBoundingClientRect();
      if (box.width > 0 && box.right > width + 1) problems.push(`<${element.tagName.toLowerCase()} class="${element.getAttribute('class')}"> ends at ${Math.round(box.right)}px`);
    }
    if (document.scripts.length) problems.push(`${document.scripts.length} script(s)`);
    for (const form of Array.from(document.forms)) {
      if (form.method.toLowerCase() === 'post' && !form.querySelector<HTMLInputElement>('input[name="csrf"]')?.value) problems.push(`form to ${form.getAttribute('action')} has no CSRF token`);
    }
    return problems.slice(0, 10);
  });
}

describe.skipIf(!hasChromium)('the admin console in headless Chromium', { timeout: 180_000 }, () => {
  let t: TestHub | undefined;
  let chromium: Browser | undefined;

  beforeAll(async () => {
    t = await startTestHub();
    await consoleUser(t, 'root@example.com', 'admin');
    await consoleUser(t, 'viewer@example.com', 'read_only');
    await consoleUser(t, 'mallory@example.com', 'none');
    await seedAnalytics(t);
    chromium = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await chromium?.close();
    await t?.stop();
  });

  async function signIn(options: object, email: string, returnTo = '/console') {
    const context = await chromium!.newContext(options);
    const page = await context.newPage();
    await page.goto(`${t!.url}/console/login?returnTo=${encodeURIComponent(returnTo)}`);
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/console') && !url.pathname.startsWith('/console/callback'));
    return page;
  }

  it('a user without the admin role is refused with a 403 page', async () => {
    const page = await signIn(DESKTOP, 'viewer@example.com');
    expect(await page.getByRole('heading', { name: 'Administrators only' }).isVisible()).toBe(true);
    const answer = await page.goto(`${t!.url}/console/users`);
    expect(answer?.status()).toBe(403);
    await page.context().close();
  });

  it('the administrator disables a user and rotates a secret through the pages; the desktop dashboard', async () => {
    const page = await signIn(DESKTOP, 'root@example.com');
    expect(await page.locator('svg.chart').count()).toBe(5);
    expect(await pageProblems(page)).toEqual([]);
    const desktop = await screenshot(page, 'console-dashboard-desktop');
    expect(desktop).toBeTruthy();
    await fs.copyFile(desktop!, DOCS_SCREENSHOT);

    await page.getByRole('link', { name: 'Users' }).click();
    await page.locator('#user-search').fill('mallory');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'mallory@example.com' }).click();
    await page.getByRole('button', { name: 'Disable user' }).click();
    expect(await page.getByText('The user is disabled').isVisible()).toBe(true);
    expect((await t!.hub.users.get('mallory@example.com')).disabledAt).not.toBeNull();
    expect(await pageProblems(page)).toEqual([]);

    await page.getByRole('link', { name: 'Projects' }).click();
    await page.locator('#grace-sales').selectOption('1h');
    await page.getByRole('button', { name: 'Rotate secret of sales' }).click();
    const secret = await page.locator('#new-secret').inputValue();
    expect(new URL(page.url()).pathname).toBe('/console/projects/sales/rotate-secret');
    const token = await fetch(`${t!.url}/token`, {
      method: 'POST', headers: { authorization: basicAuth('sales', secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(token.status).toBe(200);
    await page.context().close();
  });

  it('the dashboard on a phone: no sideways scrolling, no script', async () => {
    const page = await signIn(PHONE, 'root@example.com');
    expect(await page.locator('svg.chart').count()).toBe(5);
    expect(await pageProblems(page)).toEqual([]);
    expect(await screenshot(page, 'console-dashboard-phone')).toBeTruthy();
    for (const path of ['/console/users', '/console/users/mallory%40example.com', '/console/projects', '/console/keys', '/console/api-keys', '/console/webhooks', '/console/audit', '/console/automations']) {
      await page.goto(`${t!.url}${path}`);
      expect(await pageProblems(page), path).toEqual([]);
    }
    await page.context().close();
  });
});
