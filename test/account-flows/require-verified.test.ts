// "requireVerifiedEmail": true on a project: an unverified user gets the verify-required page (no
// code; prompt=none answers interaction_required) until the address is verified, then the same
// sign-in goes on to the project's code. Projects without the flag are not affected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeUrl, countStatuses, IpBrowser, linkIn, PASSWORD, pressLink, SALES_CALLBACK, startFlowHub, together, type FlowHub } from './support.js';
import { parseForm } from '../support/browser.js';
import { adminApi, adminToken } from '../support/admin-token.js';
import { EMAIL_LIMITS } from '../../src/account-center/email-limits.js';
import { parseClientDefinition } from '../../src/clients/definition.js';
import { expectSuccess, nexus, nexusJson } from '../cli/support.js';

let f: FlowHub;
beforeAll(async () => {
  f = await startFlowHub();
  const token = await adminToken(f.t);
  const updated = await adminApi(f.t, token, 'PATCH', '/clients/sales', { requireVerifiedEmail: true });
  expect(updated.status, JSON.stringify(updated.body)).toBe(200);
  expect(await adminApi(f.t, token, 'PATCH', '/clients/sales', { requireVerifiedEmail: 'yes' })).toMatchObject({ status: 400 });
  for (const email of ['ada@example.com', 'grace@example.com', 'alan@example.com']) await f.t.hub.users.create({ email, password: PASSWORD });
  await f.t.hub.users.create({ email: 'storm@example.com', password: PASSWORD, emailVerified: true });
});
afterAll(() => f?.stop());

/** Signs in to a project through the pages: the page it stops at, or the project's callback with its code. */
async function signIn(browser: IpBrowser, email: string, clientId = 'sales', redirectUri = SALES_CALLBACK) {
  const login = await browser.follow(await browser.get(authorizeUrl(clientId, redirectUri).url));
  const form = parseForm(login.body, '/login');
  return browser.follow(await browser.post(form.action, { ...form.fields, email, password: PASSWORD }));
}

async function sequence<T>(times: number, run: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < times; i++) results.push(await run());
  return results;
}

const codeOf = (url: string) => (url.startsWith(SALES_CALLBACK) ? new URL(url).searchParams.get('code') : null);

describe('a project that requires verified email addresses', () => {
  it('shows an unverified user the verify-required page, then gives the code once the address is verified', async () => {
    const browser = new IpBrowser(f.t.url);
    const page = await signIn(browser, 'ada@example.com');
    expect(page.response.status).toBe(200);
    expect(codeOf(page.url)).toBeNull();
    expect(page.body).toContain('Verify your email address');
    expect(page.body).toContain('ada@example.com');
    expect(page.body).not.toContain('<script');

    // "I have verified, continue" before verifying: the same page again, still no code.
    const continueUrl = page.body.match(/href="([^"]*\/auth\/[^"]*)"/)![1];
    const early = await browser.follow(await browser.get(continueUrl));
    expect(codeOf(early.url)).toBeNull();
    expect(early.body).toContain('Verify your email address');

    // Resend from the page, verify through the mail, continue: the code.
    const resend = parseForm(early.body, '/verification');
    const sent = await browser.post(resend.action, resend.fields);
    expect(sent.status).toBe(200);
    const sentPage = await sent.text();
    expect(sentPage).toContain('We sent a new link to ada@example.com');
    const link = linkIn(await f.smtp.waitFor('ada@example.com', (m) => m.subject.includes('Verify')), '/account/verify');
    expect((await pressLink(new IpBrowser(f.t.url), link)).status).toBe(200);

    const next = sentPage.match(/href="([^"]*\/auth\/[^"]*)"/)![1];
    const done = await browser.follow(await browser.get(next));
    expect(codeOf(done.url), done.body.slice(0, 600)).toBeTruthy();
  });

  it('answers prompt=none with interaction_required and a description, and no code', async () => {
    const browser = new IpBrowser(f.t.url);
    const first = await signIn(browser, 'grace@example.com', 'dream-people', 'http://localhost:3002/auth/callback');
    // A project without the flag gives an unverified user a code at once.
    expect(new URL(first.url).searchParams.get('code')).toBeTruthy();
    const silent = await browser.follow(await browser.get(authorizeUrl('sales', SALES_CALLBACK, { prompt: 'none' }).url));
    const answer = new URL(silent.url);
    expect(answer.origin + answer.pathname).toBe(SALES_CALLBACK);
    expect(answer.searchParams.get('code')).toBeNull();
    expect(answer.searchParams.get('error')).toBe('interaction_required');
    expect(answer.searchParams.get('error_description')).toContain('verified email');
  });

  it(`limits the page's resend per user (${EMAIL_LIMITS.resend.perSubject} an hour) under 8 parallel posts`, async () => {
    const browser = new IpBrowser(f.t.url);
    const page = await signIn(browser, 'alan@example.com');
    const resend = parseForm(page.body, '/verification');
    const answers = await together(Array.from({ length: 8 }, () => () => browser.post(resend.action, resend.fields)));
    expect(countStatuses(answers)).toEqual({ 200: EMAIL_LIMITS.resend.perSubject, 429: 8 - EMAIL_LIMITS.resend.perSubject });
    expect(Number(answers.find((a) => a.status === 429)!.headers.get('retry-after'))).toBeGreaterThan(0);
    // A forged CSRF token is refused.
    expect((await browser.post(resend.action, { csrf: 'forged' })).status).toBe(403);
  });

  it('costs a verified user no statement: the check reuses the sign-in\'s own read of the user', async () => {
    // Counted at the pool every statement of the hub goes through (Prisma's and the plain SQL).
    const pool = f.t.hub.db.pool;
    const query = pool.query.bind(pool);
    let statements = 0;
    pool.query = ((...args: Parameters<typeof pool.query>) => { statements++; return query(...args); }) as typeof pool.query;
    try {
      const browser = new IpBrowser(f.t.url);
      const silentSignIn = async (clientId: string, redirectUri: string) => {
        const before = statements;
        const answer = await browser.follow(await browser.get(authorizeUrl(clientId, redirectUri, { prompt: 'none' }).url));
        expect(new URL(answer.url).searchParams.get('code'), answer.url).toBeTruthy();
        return statements - before;
      };
      expect(codeOf((await signIn(browser, 'storm@example.com')).url)).toBeTruthy();
      // Already signed in to the hub: the other first-party project gives its code at once.
      expect((await browser.follow(await browser.get(authorizeUrl('dream-people', 'http://localhost:3002/auth/callback').url))).url).toContain('code=');
      // Several of each: a background statement (the bus, the mail queue) may land in one of them.
      const flagged = Math.min(...await sequence(3, () => silentSignIn('sales', SALES_CALLBACK)));
      const plain = Math.min(...await sequence(3, () => silentSignIn('dream-people', 'http://localhost:3002/auth/callback')));
      expect(plain).toBeGreaterThan(0);
      expect(flagged).toBe(plain);
    } finally {
      pool.query = query;
    }
  });

  it('keeps the flag in the project definition (CLI and admin API read it back)', async () => {
    expect((await f.t.hub.clients.get('sales')).requireVerifiedEmail).toBe(true);
    expect((await f.t.hub.clients.get('dream-people')).requireVerifiedEmail).toBe(false);
  });
});

describe('the requireVerifiedEmail field', () => {
  it('is read from clients.json entries: true, false or absent', () => {
    const entry = { id: 'reports', name: 'Reports', redirectUris: ['https://reports.example/cb'] };
    expect(parseClientDefinition({ ...entry, requireVerifiedEmail: true }).requireVerifiedEmail).toBe(true);
    expect(parseClientDefinition(entry).requireVerifiedEmail).toBe(false);
    expect(() => parseClientDefinition({ ...entry, requireVerifiedEmail: 'true' })).toThrow('requireVerifiedEmail must be true or false');
  });

  it('is set and cleared by nexus clients add|update', async () => {
    const shown = async () => (await nexus(f.t, 'clients', 'show', 'dream-people')).stdout;
    expectSuccess(await nexus(f.t, 'clients', 'update', 'dream-people', '--require-verified-email'));
    expect(await shown()).toContain('email required before a code');
    expect((await f.t.hub.clients.get('dream-people')).requireVerifiedEmail).toBe(true);
    expectSuccess(await nexus(f.t, 'clients', 'update', 'dream-people', '--allow-unverified-email'));
    expect(await shown()).toMatch(/verified: +not required/);
    const added = await nexusJson<{ client: { requireVerifiedEmail: boolean } }>(f.t, 'clients', 'add', '--id', 'reports', '--name', 'Reports', '--redirect-uri', 'https://reports.example/cb', '--require-verified-email');
    expect(added.client.requireVerifiedEmail).toBe(true);
  });
});
