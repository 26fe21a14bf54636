// Remembered consent and connected apps through a real hub: a third-party project's consent given
// in one browser holds in another (no consent page), a new scope asks for that scope only, the
// connected apps page lists what each project may do in plain words, and "Remove access" revokes
// the project's grants and refresh tokens (consent.revoked, once under 8 parallel removals) so
// the next sign-in asks again. A user who lost access to a project is stopped all the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { authorize, Browser, parseForm } from '../support/browser.js';
import { postForm } from '../support/oauth.js';
import { createUser, eventRows, page, PASSWORD, refresh, signIn, signInToAccount, textOf } from '../billing/support.js';
import { ProjectAccess } from '../../src/accounts/access.js';

const EMAIL = 'ada@example.com';
const OTHER = 'bob@example.com';
// Third-party (clients.json), open to every user, not governed by plans.
const AGI = { clientId: 'agi-safety', redirectUri: 'http://localhost:3005/auth/callback', audience: 'urn:nexus:agi-safety' };
// Third-party and only for granted users (added below).
const VAULT = { clientId: 'vault', redirectUri: 'http://localhost:3030/auth/callback', audience: 'urn:nexus:vault' };

let t: TestHub;
let adaId: string;
let bobId: string;

beforeAll(async () => {
  t = await startTestHub();
  adaId = (await createUser(t, EMAIL, 'Ada')).id;
  bobId = (await createUser(t, OTHER, 'Bob')).id;
  const { secret } = await t.hub.clients.add({
    id: VAULT.clientId, name: 'Vault', redirectUris: [VAULT.redirectUri], grantTypes: ['authorization_code', 'refresh_token'],
    firstParty: false, audience: VAULT.audience, scopes: ['vault:read'], access: 'granted',
  });
  t.secrets[VAULT.clientId] = secret!;
});
afterAll(() => t?.stop());

/** One authorization request to a third-party project in `browser`; stops at the consent page unless `approve`. */
async function authorizeAt(browser: Browser, scope: string, options: { approve?: boolean; email?: string; project?: typeof AGI } = {}) {
  const project = options.project ?? AGI;
  const result = await authorize(browser, {
    clientId: project.clientId, redirectUri: project.redirectUri, email: options.email ?? EMAIL, password: PASSWORD, scope, consent: options.approve ?? false,
  });
  const consentPage = result.body.includes('/consent"');
  const scopes = [...result.body.matchAll(/<li data-scope="([^"]+)">/g)].map(([, s]) => s);
  return { ...result, consentPage, scopes, project };
}

async function tokensFor(result: Awaited<ReturnType<typeof authorizeAt>>) {
  const answer = await postForm(t, '/token', result.project.clientId, {
    grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: result.project.redirectUri,
  });
  expect(answer.status, answer.text).toBe(200);
  return answer.body;
}

const remembered = (userId = adaId, clientId = AGI.clientId) => t.hub.db.prisma.consent.findUnique({ where: { userId_clientId: { userId, clientId } } });
const grantsOf = async (userId: string, clientId: string) => Number((await t.hub.db.prisma.$queryRawUnsafe<Array<{ n: bigint }>>(
  "SELECT count(*) AS n FROM oidc_payloads WHERE model = 'Grant' AND account_id = $1 AND payload->>'clientId' = $2", userId, clientId,
))[0].n);

interface App { clientId: string; text: string; scopes: string[] }
async function connectedApps(browser: Browser): Promise<App[]> {
  const shown = await page(browser, '/account/apps');
  expect(shown.response.status, shown.body.slice(0, 500)).toBe(200);
  return [...shown.body.matchAll(/<li class="app-item" data-client="([^"]+)">([\s\S]*?)<\/form>\s*<\/li>/g)].map(([, clientId, html]) => ({
    clientId, text: textOf(html), scopes: [...html.matchAll(/data-scope="([^"]+)"/g)].map(([, s]) => s),
  }));
}

async function removeAccess(browser: Browser, clientId: string) {
  const { fields } = parseForm((await page(browser, '/account/security')).body, '/account/password');
  return browser.post(`/account/apps/${encodeURIComponent(clientId)}/remove`, { csrf: fields.csrf });
}

describe('remembered consent', () => {
  let browserA: Browser;
  let browserB: Browser;
  beforeAll(() => {
    browserA = new Browser(t.url);
    browserB = new Browser(t.url);
  });

  it('the first sign-in asks; the approved scopes are remembered for the user and project', async () => {
    const asked = await authorizeAt(browserA, 'openid email research:read');
    expect(asked.consentPage).toBe(true);
    expect(asked.scopes.sort()).toEqual(['email', 'openid', 'research:read']);
    const approved = await authorizeAt(browserA, 'openid email research:read', { approve: true });
    expect(approved.code).toBeTruthy();
    const tokens = await tokensFor(approved);
    expect(tokens.scope).toBe('research:read');
    expect(await remembered()).toMatchObject({ oidcScopes: ['email', 'openid'], resourceScopes: { [AGI.audience]: 'research:read' } });
  });

  it('another browser signing in to the same project gets its code without a consent page', async () => {
    const result = await authorizeAt(browserB, 'openid email research:read');
    expect(result.consentPage, result.body.slice(0, 800)).toBe(false);
    expect(result.code).toBeTruthy();
    const tokens = await tokensFor(result);
    expect(tokens.scope).toBe('research:read');
  });

  it('a new scope asks for that scope only, and is remembered with the others', async () => {
    const asked = await authorizeAt(browserB, 'openid email research:read research:write');
    expect(asked.consentPage).toBe(true);
    expect(asked.scopes).toEqual(['research:write']);
    expect(textOf(asked.body)).toContain('Create and change your research');
    const approved = await authorizeAt(browserB, 'openid email research:read research:write', { approve: true });
    expect((await tokensFor(approved)).scope.split(' ').sort()).toEqual(['research:read', 'research:write']);
    expect((await remembered())!.resourceScopes).toEqual({ [AGI.audience]: 'research:read research:write' });
    // The first browser's own grant had only research:read: the consent given in B reaches it too.
    const inA = await authorizeAt(browserA, 'openid email research:write');
    expect(inA.consentPage).toBe(false);
    expect((await tokensFor(inA)).scope).toBe('research:write');
  });

  it('prompt=consent (offline access) asks for offline access; once allowed, it still asks and says what approving allows', async () => {
    const asked = await authorizeAt(browserA, 'openid email offline_access research:read');
    expect(asked.consentPage).toBe(true);
    expect(asked.scopes).toEqual(['offline_access']);
    await authorizeAt(browserA, 'openid email offline_access research:read', { approve: true });
    const again = await authorizeAt(new Browser(t.url), 'openid email offline_access research:read');
    expect(again.consentPage).toBe(true);
    expect(again.scopes.sort()).toEqual(['email', 'offline_access', 'openid', 'research:read']);
  });

  it("another user's consent is their own", async () => {
    const bob = await authorizeAt(new Browser(t.url), 'openid email research:read', { email: OTHER });
    expect(bob.consentPage).toBe(true);
    expect(await remembered(bobId)).toBeNull();
  });
});

describe('connected apps and remove access', () => {
  let browser: Browser;
  let agiRefresh: string;
  let salesRefresh: string;

  beforeAll(async () => {
    browser = new Browser(t.url);
    const approved = await authorizeAt(browser, 'openid email offline_access research:read', { approve: true });
    agiRefresh = (await tokensFor(approved)).refresh_token;
    expect(agiRefresh).toBeTruthy();
    salesRefresh = (await signIn(t, 'sales', EMAIL, { browser })).tokens.refresh_token;
    await signInToAccount(browser, EMAIL, '/account/apps');
  });

  it('lists every project the user allowed, with its scopes in plain words and since when; not the account center itself', async () => {
    const apps = await connectedApps(browser);
    expect(apps.map((a) => a.clientId).sort()).toEqual(['agi-safety', 'sales']);
    const agi = apps.find((a) => a.clientId === 'agi-safety')!;
    // The OpenID scopes first, as people read them.
    expect(agi.scopes).toEqual(['openid', 'email', 'offline_access', ...agi.scopes.slice(3)]);
    expect(agi.scopes.slice(3).sort()).toEqual(['research:read', 'research:write']);
    expect(agi.text).toContain('AGI Safety');
    for (const words of ['View your research', 'Create and change your research', 'See your email address', 'Stay connected when you are not using it']) expect(agi.text).toContain(words);
    expect(agi.text).toMatch(new RegExp(`Allowed on \\d+ \\w+ ${new Date().getUTCFullYear()}`));
    const sales = apps.find((a) => a.clientId === 'sales')!;
    expect(sales.text).toContain('Nexus');
    expect(sales.scopes).toEqual(expect.arrayContaining(['leads:read', 'email', 'automation']));
    expect(sales.text).toContain('Run automations for you');
  });

  it('the page is script-free, in the navigation, and its forms carry the CSRF token', async () => {
    const shown = await page(browser, '/account/apps');
    expect(shown.body).not.toMatch(/<script/i);
    expect(shown.body).toContain('<a href="/account/apps" aria-current="page">Connected apps</a>');
    const forms = [...shown.body.matchAll(/<form\b[\s\S]*?<\/form>/g)].map(([form]) => form);
    expect(forms).toHaveLength(2);
    for (const form of forms) expect(form).toMatch(/<input type="hidden" name="csrf" value="[^"]{20,}">/);
  });

  it('remove access revokes the grants and refresh tokens, forgets the consent, and the next sign-in asks again', async () => {
    const answer = await removeAccess(browser, 'agi-safety');
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/account/apps?removed=1');
    expect(textOf((await page(browser, '/account/apps?removed=1')).body)).toContain('Access was removed.');

    const refused = await postForm(t, '/token', AGI.clientId, { grant_type: 'refresh_token', refresh_token: agiRefresh });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect(await remembered()).toBeNull();
    expect(await grantsOf(adaId, AGI.clientId)).toBe(0);
    expect((await connectedApps(browser)).map((a) => a.clientId)).toEqual(['sales']);

    const events = await eventRows(t, { type: 'consent.revoked', userId: adaId });
    expect(events).toHaveLength(1);
    expect(events[0].data).toMatchObject({ project: 'agi-safety' });
    expect(events[0].actor).toEqual({ type: 'user', id: adaId });

    // Every browser asks again, also the one whose session had a grant.
    expect((await authorizeAt(browser, 'openid email research:read')).consentPage).toBe(true);
    expect((await authorizeAt(new Browser(t.url), 'openid email research:read')).consentPage).toBe(true);
    // The other project is untouched.
    const sales = await refresh(t, 'sales', salesRefresh);
    expect(sales.status, sales.text).toBe(200);
    salesRefresh = sales.body.refresh_token;
  });

  it('removing a first-party project revokes its grants; its next sign-in needs no consent page', async () => {
    expect((await removeAccess(browser, 'sales')).status).toBe(303);
    expect((await refresh(t, 'sales', salesRefresh)).body.error).toBe('invalid_grant');
    const again = await signIn(t, 'sales', EMAIL, { browser });
    expect(again.tokens.refresh_token).toBeTruthy();
  });

  it('8 parallel removals: one wins, one consent.revoked, the others find nothing, no 5xx', async () => {
    await authorizeAt(browser, 'openid email research:read', { approve: true });
    expect(await remembered()).not.toBeNull();
    const { fields } = parseForm((await page(browser, '/account/apps')).body, '/account/apps/agi-safety/remove');
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => { release = resolve; });
    const attempts = Array.from({ length: 8 }, async () => {
      await barrier;
      return (await browser.post('/account/apps/agi-safety/remove', fields)).status;
    });
    release();
    const statuses = await Promise.all(attempts);
    expect(statuses.filter((s) => s === 303)).toHaveLength(1);
    expect(statuses.filter((s) => s === 404)).toHaveLength(7);
    expect(await eventRows(t, { type: 'consent.revoked', userId: adaId })).toHaveLength(3); // agi-safety, sales, agi-safety
  });

  it("an app the user never allowed, or another user's, is not found and nothing changes", async () => {
    const bob = new Browser(t.url);
    await authorizeAt(bob, 'openid email research:read', { email: OTHER, approve: true });
    expect((await removeAccess(browser, 'shelter')).status).toBe(404);
    expect((await removeAccess(browser, 'no-such-project')).status).toBe(404);
    expect((await removeAccess(browser, 'agi-safety')).status).toBe(404);
    expect(await remembered(bobId)).not.toBeNull();
  });

  it('the forms need a signed-in browser (401) and its CSRF token (403)', async () => {
    expect((await new Browser(t.url).post('/account/apps/agi-safety/remove', { csrf: 'x' })).status).toBe(401);
    expect((await browser.post('/account/apps/sales/remove', { csrf: 'forged' })).status).toBe(403);
    const anonymous = await new Browser(t.url).get('/account/apps');
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get('location')).toBe('/account/login?returnTo=%2Faccount%2Fapps');
  });

  it('hostile project ids, bodies and methods never answer 5xx', async () => {
    const { fields } = parseForm((await page(browser, '/account/apps')).body, '/account/apps/');
    for (const id of ['%00', 'a%00b', '%C0%AF', '%ED%A0%80', '%FF', 'x'.repeat(5000), '..%2F..', "'%20OR%201=1"]) {
      const answer = await browser.post(`/account/apps/${id}/remove`, fields);
      expect(answer.status, id).toBeLessThan(500);
      expect([400, 404, 414, 431], id).toContain(answer.status);
    }
    const repeated = await browser.request('/account/apps/sales/remove', {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${fields.csrf}&csrf=${fields.csrf}`,
    });
    expect(repeated.status).toBe(403);
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      expect((await browser.request('/account/apps/sales/remove', { method })).status, method).toBeLessThan(500);
    }
    expect((await browser.request('/account/apps', { method: 'POST' })).status).toBeLessThan(500);
    expect((await browser.get('/account/apps?removed=%00')).status).toBe(200);
  });
});

describe('project access still decides', () => {
  it('a user whose access to a project was revoked is stopped even with a remembered consent', async () => {
    const access = new ProjectAccess(t.hub.db.prisma);
    await access.grant(bobId, VAULT.clientId, 'user');
    const approved = await authorizeAt(new Browser(t.url), 'openid vault:read', { email: OTHER, project: VAULT, approve: true });
    expect(approved.code).toBeTruthy();
    expect(await remembered(bobId, VAULT.clientId)).not.toBeNull();
    // With access, another browser needs no consent page.
    expect((await authorizeAt(new Browser(t.url), 'openid vault:read', { email: OTHER, project: VAULT })).code).toBeTruthy();

    await access.revoke(bobId, VAULT.clientId);
    const refused = await authorizeAt(new Browser(t.url), 'openid vault:read', { email: OTHER, project: VAULT });
    expect(refused.code).toBeNull();
    expect(refused.response.status).toBe(403);
    expect(refused.body).toContain('access to Vault');
  });
});
