// The dashboard and the user's plan, with billing on (a local Stripe stand-in): the plan box on
// top offers the upgrade, in a form carrying the session's CSRF token that starts a checkout;
// and the summaries count against the plan's gateway limit like the user's own requests (past
// it, the card says "unavailable" and the rest of the page is unchanged).
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Browser, parseForm } from '../support/browser.js';
import { createUser, signInToAccount, startBillingHub, textOf, type BillingHub } from '../billing/support.js';
import { putBehindGateway } from '../gateway/support.js';
import { createSalesApp } from '../../examples/sales/server.js';

const EMAIL = 'ada@example.com';
// Sign-in lands on the dashboard (1), the upgrade test loads it (2): one request is left.
const PER_MINUTE = 3;

let billing: BillingHub;
let sales: http.Server;
let browser: Browser;

beforeAll(async () => {
  const plans = JSON.parse(await fs.readFile('plans.json', 'utf8'));
  plans.plans.free.gateway = { requestsPerMinute: PER_MINUTE };
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-dashboard-plans-'));
  await fs.writeFile(path.join(dir, 'plans.json'), JSON.stringify(plans));
  billing = await startBillingHub({ PLANS_FILE: path.join(dir, 'plans.json') });
  const { t } = billing;
  const app = createSalesApp({ issuer: t.url, port: 3001, clientSecret: t.secrets.sales, cookieSecret: 'x'.repeat(40) });
  sales = http.createServer(app.callback());
  await new Promise<void>((resolve) => sales.listen(0, '127.0.0.1', resolve));
  await putBehindGateway(t, 'sales', `http://127.0.0.1:${(sales.address() as AddressInfo).port}/api`);
  await createUser(t, EMAIL, 'Ada');
  browser = new Browser(t.url);
  await signInToAccount(browser, EMAIL, '/dashboard');
}, 60_000);
afterAll(async () => {
  await new Promise((resolve) => { sales?.closeAllConnections(); sales?.close(resolve); });
  await billing?.stop();
});

const salesCard = (body: string) => /<li class="panel dashboard-card" data-project="sales" data-state="([^"]+)">/.exec(body)?.[1];

it('offers the upgrade on top, in a form with the CSRF token that starts a checkout', async () => {
  const shown = await browser.follow(await browser.get('/dashboard'));
  expect(shown.response.status).toBe(200);
  const { action, fields } = parseForm(shown.body, '/api/billing/checkout');
  expect(action).toBe('/api/billing/checkout');
  expect(fields.csrf).toBeTruthy();
  expect(fields.plan).toBe('pro');
  expect(textOf(shown.body)).toMatch(/Upgrade to Pro — \$\d+/);
  const checkout = await browser.post(action, fields);
  expect(checkout.status).toBe(303);
  expect(checkout.headers.get('location')).toMatch(/^https:\/\/checkout\.stripe\.test\//);
});

it('counts the summaries against the plan\'s gateway limit', async () => {
  const states: Array<string | undefined> = [];
  for (let i = 0; i < 2; i++) {
    const shown = await browser.follow(await browser.get('/dashboard'));
    expect(shown.response.status).toBe(200);
    states.push(salesCard(shown.body));
  }
  expect(states).toEqual(['shown', 'unavailable']);
});
