// The dashboard on a phone in headless Chromium: a user signs in at the hub's own page and lands
// on /dashboard, with examples/sales' card filled through the gateway and a project that is down
// saying so, the plan on top with its upgrade button (billing on, a local Stripe stand-in). The
// page must not scroll sideways and carries no script. Screenshot:
// test-artifacts/browser/dashboard-phone.png (gitignored).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { TestHub } from '../support/hub.js';
import { freePort } from '../support/process.js';
import { createUser, PASSWORD, startBillingHub, type BillingHub } from '../billing/support.js';
import { putBehindGateway } from '../gateway/support.js';
import { CHROMIUM_PATH, hasChromium, launchChromium, screenshot } from '../browser/support.js';
import { createSalesApp } from '../../examples/sales/server.js';

const EMAIL = 'grace@example.com';
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-US' };

if (!hasChromium) console.warn(`[dashboard phone test] skipped: ${CHROMIUM_PATH} is missing`);

describe.skipIf(!hasChromium)('the dashboard on a phone', () => {
  let billing: BillingHub;
  let t: TestHub;
  let sales: http.Server;
  let chromium: Browser;

  beforeAll(async () => {
    billing = await startBillingHub();
    t = billing.t;
    const app = createSalesApp({ issuer: t.url, port: 3001, clientSecret: t.secrets.sales, cookieSecret: 'x'.repeat(40) });
    sales = http.createServer(app.callback());
    await new Promise<void>((resolve) => sales.listen(0, '127.0.0.1', resolve));
    await putBehindGateway(t, 'sales', `http://127.0.0.1:${(sales.address() as AddressInfo).port}/api`);
    await putBehindGateway(t, 'dream-people', `http://127.0.0.1:${await freePort()}/api`);
    await createUser(t, EMAIL, 'Grace');
    chromium = await launchChromium();
  }, 90_000);
  afterAll(async () => {
    await chromium?.close();
    await new Promise((resolve) => { sales?.closeAllConnections(); sales?.close(resolve); });
    await billing?.stop();
  });

  it('signs in and shows the cards without sideways scrolling or script', { timeout: 90_000 }, async () => {
    const context = await chromium.newContext(PHONE);
    const page = await context.newPage();
    try {
      await page.goto(`${t.url}/dashboard`);
      await page.locator('#email').fill(EMAIL);
      await page.locator('#password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL((url) => url.pathname === '/dashboard', { timeout: 30_000 });
      const salesCard = page.locator('[data-project="sales"]');
      await expect(salesCard.locator('dd').first().textContent()).resolves.toBe('2');
      await expect(salesCard.textContent()).resolves.toContain('$17,300.00');
      await expect(page.locator('[data-project="dream-people"]').textContent()).resolves.toContain('unavailable');
      await expect(page.getByRole('button', { name: /Upgrade to Pro/ }).isVisible()).resolves.toBe(true);
      const layout = await page.evaluate(() => ({
        width: document.documentElement.clientWidth,
        scrollWidth: document.documentElement.scrollWidth,
        scripts: document.scripts.length,
      }));
      expect(layout.scrollWidth).toBeLessThanOrEqual(layout.width);
      expect(layout.scripts).toBe(0);
      await screenshot(page, 'dashboard-phone');
    } finally {
      await context.close();
    }
  });
});
