// A hub without Stripe (no STRIPE_* environment): the pages say online billing is off, the
// billing API and the webhook answer 503 not_configured, and an operator sets plans with
// `nexus plans set`, which the user's next token shows. Also: a hub with a Stripe key but no
// webhook secret refuses webhooks while checkout works.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { deliver, event, subscription, WEBHOOK_SECRET } from './events.js';
import { STRIPE_SECRET_KEY, StripeStandIn } from './stripe-stand-in.js';
import { billingToken, createUser, eventRows, page, Session, signIn, scopesOf, textOf } from './support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NOT_CONFIGURED = 'Online billing is not configured on this hub. An administrator can set your plan.';

/** Runs `node scripts/nexus.mjs ...args` with the hub's environment, like an operator would. */
function nexus(t: TestHub, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/nexus.mjs', ...args], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...t.env, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 45_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function api(t: TestHub, route: string, token: string, body: unknown) {
  const response = await fetch(`${t.url}${route}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

describe('a hub without STRIPE_SECRET_KEY', () => {
  let t: TestHub;
  let hub: { t: TestHub; jwks: ReturnType<typeof createRemoteJWKSet> };
  const EMAIL = 'june@example.com';
  let userId: string;
  let sales: Session;
  let browser: Awaited<ReturnType<typeof signIn>>['browser'];

  beforeAll(async () => {
    t = await startTestHub();
    expect(Object.keys(t.env).filter((name) => name.startsWith('STRIPE'))).toEqual([]);
    hub = { t, jwks: createRemoteJWKSet(new URL(`${t.url}/jwks`)) };
    userId = (await createUser(t, EMAIL)).id;
    const signed = await signIn(t, 'sales', EMAIL);
    browser = signed.browser;
    sales = new Session(hub, 'sales', signed.tokens);
  });
  afterAll(() => t?.stop());

  it('the pricing and account pages say online billing is not configured and offer no checkout', async () => {
    const anonymous = await fetch(`${t.url}/pricing`);
    expect(anonymous.status).toBe(200);
    const pricing = await anonymous.text();
    expect(textOf(pricing)).toContain(NOT_CONFIGURED);
    expect(pricing).not.toContain('Sign in to choose');
    expect(pricing).not.toContain('/api/billing/checkout');
    expect(textOf(pricing)).toContain('Contact sales'); // enterprise is by agreement anyway

    const account = await page(browser, '/account');
    expect(account.response.status).toBe(200);
    const text = textOf(account.body);
    expect(text).toMatch(/Current plan Free Active/);
    expect(text).toContain(NOT_CONFIGURED);
    expect(account.body).not.toContain('/api/billing/checkout');
    expect(account.body).not.toContain('/api/billing/portal');
  });

  it('checkout and portal answer 503 not_configured; the webhook answers 503', async () => {
    const token = await billingToken(t, EMAIL);
    expect(await api(t, '/api/billing/checkout', token, { plan: 'pro' })).toMatchObject({ status: 503, body: { error: 'not_configured', error_description: NOT_CONFIGURED } });
    expect(await api(t, '/api/billing/portal', token, {})).toMatchObject({ status: 503, body: { error: 'not_configured' } });
    const webhook = await deliver(t.url, event('customer.subscription.updated', subscription({ id: 'sub_x', customer: 'cus_x' })));
    expect(webhook.status).toBe(503);
    expect(webhook.body).toMatchObject({ error: 'not_configured' });
    expect(await t.hub.db.prisma.stripeEvent.count()).toBe(0);
    expect(await t.hub.subscriptions.planOf(userId)).toBe('free');
  });

  it('`nexus plans set --email E --plan pro` exits 0 and the user\'s next token carries pro', async () => {
    expect((await sales.claims()).plan).toBe('free');
    const result = await nexus(t, ['plans', 'set', '--email', EMAIL, '--plan', 'pro']);
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe(`Plan set. ${EMAIL}: pro (active)\n`);

    const claims = await sales.next();
    expect(claims.sub).toBe(userId);
    expect(claims.plan).toBe('pro');
    expect(scopesOf(claims)).toEqual(['automation', 'leads:read', 'leads:write']);
    expect(claims.entitlements).toEqual({ leadsPerMonth: 500, automation: true, team: false });
    expect(sales.idToken().plan).toBe('pro');
    expect(await t.hub.db.prisma.projectAccess.findUnique({ where: { userId_project: { userId, project: 'liminal' } } })).toMatchObject({ role: 'user', source: 'plan' });
    expect(await eventRows(t, { type: 'subscription.changed', userId })).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ source: 'cli', from: { plan: 'free', status: 'active' }, to: { plan: 'pro', status: 'active', effectivePlan: 'pro' } }) }),
    ]);
    expect(textOf((await page(browser, '/account')).body)).toMatch(/Current plan Pro Active/);

    const shown = await nexus(t, ['plans', 'show', EMAIL, '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ email: EMAIL, plan: 'pro', status: 'active', stripeCustomerId: null });
  });

  it('`nexus plans set` refuses an unknown plan and changes nothing', async () => {
    const result = await nexus(t, ['plans', 'set', '--email', EMAIL, '--plan', 'gold']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^nexus: .*gold/);
    expect(await t.hub.subscriptions.planOf(userId)).toBe('pro');
  });
});

describe('a hub with STRIPE_SECRET_KEY but no STRIPE_WEBHOOK_SECRET', () => {
  let t: TestHub;
  let stripe: StripeStandIn;

  beforeAll(async () => {
    stripe = await StripeStandIn.start();
    t = await startTestHub({ STRIPE_SECRET_KEY, STRIPE_API_URL: stripe.url });
  });
  afterAll(async () => {
    await t?.stop();
    await stripe?.close();
  });

  it('refuses webhooks with 503 (it cannot check them) while checkout works', async () => {
    const webhook = await deliver(t.url, event('customer.created', { id: 'cus_x', object: 'customer' }), { secret: WEBHOOK_SECRET });
    expect(webhook.status).toBe(503);
    expect(webhook.body).toMatchObject({ error: 'not_configured' });

    await createUser(t, 'kim@example.com');
    const checkout = await api(t, '/api/billing/checkout', await billingToken(t, 'kim@example.com'), { plan: 'pro' });
    expect(checkout).toMatchObject({ status: 200, body: { url: expect.stringMatching(/^https:\/\/checkout\.stripe\.test\//) } });
    expect(stripe.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/customers', 'POST /v1/checkout/sessions']);
    expect(textOf(await (await fetch(`${t.url}/pricing`)).text())).not.toContain(NOT_CONFIGURED);
  });
});
