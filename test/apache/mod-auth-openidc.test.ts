// Independent relying party: Apache httpd with mod_auth_openidc (Debian's
// libapache2-mod-auth-openidc, an OpenID-certified RP written in C by people who never saw this
// hub) protects a CGI page. A person signs in through the hub's real login and consent pages;
// Apache discovers the hub, sends the authorization request with PKCE S256, checks the RFC 9207
// `iss` of the response, redeems the code with client_secret_basic, validates the ID token
// against the JWKS and hands the claims to the page. Then RP-initiated logout, driven by Apache.
//
// Runs its own httpd (test/apache/httpd.conf.template, ./apache.ts) on a free loopback port.
// Debug: NEXUS_APACHE_OIDC_LOG_LEVEL=debug NEXUS_KEEP_APACHE=1 keeps a protocol trace in
// /tmp/nexus-apache-*/logs/error.log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { startTestHub, type TestHub } from '../support/hub.js';
import { parseForm } from '../support/browser.js';
import { apacheMissing, processesUsing, startApache, type Apache } from './apache.js';
import { freePort } from '../support/process.js';
import { CookieBrowser } from './cookie-browser.js';

const EMAIL = 'rosalind@example.com';
const PASSWORD = 'photo 51 diffraction';
const FULL_NAME = 'Rosalind Franklin';
const CLIENT_ID = 'apache';
const SESSION_COOKIE = 'mod_auth_openidc_session';

const missing = apacheMissing();
if (missing) console.warn(`[skip] Apache mod_auth_openidc test skipped: ${missing}`);

/** The CGI script's key=value lines. */
function parseReport(body: string): Record<string, string> {
  const report: Record<string, string> = {};
  for (const line of body.split('\n')) {
    const index = line.indexOf('=');
    if (index > 0) report[line.slice(0, index)] = line.slice(index + 1);
  }
  return report;
}

describe.skipIf(missing !== undefined)('Apache mod_auth_openidc against the hub', () => {
  let t: TestHub | undefined;
  let apache: Apache | undefined;
  let userId: string;
  let redirectUri: string;
  let loggedOutUrl: string;
  /** The browser that signed in; the logout test continues with it. */
  let signedIn: CookieBrowser | undefined;

  /** Adds Apache's view (hops and error log) to a failure message. */
  const context = (browser?: CookieBrowser) =>
    `\n--- hops ---\n${browser?.trace() ?? ''}\n--- apache error.log ---\n${apache?.errorLog() ?? ''}`;

  /**
   * auth_openidc error/warn lines logged while `action` ran. mod_auth_openidc calls the userinfo
   * endpoint on every sign-in with the code-flow access token, so a clean log also proves the
   * hub's userinfo accepts it.
   */
  async function unexpectedOidcProblems(action: () => Promise<void>) {
    const before = apache!.errorLog().length;
    await action();
    return apache!.errorLog().slice(before).split('\n')
      .filter((line) => /\[auth_openidc:(error|warn)\]/.test(line));
  }

  beforeAll(async () => {
    t = await startTestHub();
    const port = await freePort();
    redirectUri = `http://localhost:${port}/protected/redirect_uri`;
    loggedOutUrl = `http://localhost:${port}/logged-out.html`;
    const { secret } = await t.hub.clients.add({
      id: CLIENT_ID,
      name: 'Apache test',
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [loggedOutUrl],
      grantTypes: ['authorization_code', 'refresh_token'],
      firstParty: false, // third party: the hub shows its consent page
      audience: 'urn:nexus:apache',
      scopes: [],
    });
    if (!secret) throw new Error('a confidential client must get a secret');
    await t.hub.users.create({ email: EMAIL, password: PASSWORD, fullName: FULL_NAME });
    userId = (await t.hub.users.findByEmail(EMAIL))!.id;
    apache = await startApache({ port, issuer: t.url, clientId: CLIENT_ID, clientSecret: secret });
  });

  afterAll(async () => {
    const confPath = apache?.confPath;
    try {
      await apache?.stop();
    } finally {
      await t?.stop();
    }
    // No httpd (parent or worker) may outlive the file.
    if (confPath) expect(await processesUsing(confPath)).toEqual([]);
  });

  it('serves public pages without a sign-in (sanity check of the private httpd)', async () => {
    const response = await fetch(`${apache!.url}/index.html`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('public page');
  });

  it('sends an unauthenticated visitor to the hub with code + PKCE S256', async () => {
    const browser = new CookieBrowser();
    const response = await browser.get(`${apache!.url}/protected/`);
    expect(response.status, context(browser)).toBe(302);
    const location = new URL(response.location!);
    expect(location.origin + location.pathname).toBe(`${t!.url}/auth`);
    const params = location.searchParams;
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe(CLIENT_ID);
    expect(params.get('redirect_uri')).toBe(redirectUri);
    expect(params.get('scope')?.split(' ').sort()).toEqual(['email', 'openid', 'profile']);
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('state')).toBeTruthy();
    expect(params.get('nonce')).toBeTruthy();
    // mod_auth_openidc remembers the request in a state cookie named after the state.
    expect(browser.cookieNames()).toContain(`mod_auth_openidc_state_${params.get('state')}`);
  });

  it('signs in through the hub login and consent pages and hands the claims to the page', async () => {
    const browser = new CookieBrowser();
    const start = `${apache!.url}/protected/`;

    const problems = await unexpectedOidcProblems(async () => {
      // Apache → hub /auth → the hub's login page.
      let page = await browser.follow(await browser.get(start), start);
      expect(new URL(page.url).origin, context(browser)).toBe(t!.url);
      expect(new URL(page.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
      const login = parseForm(page.body, '/login');
      expect(login.fields.csrf).toBeTruthy();
      const loginUrl = new URL(login.action, page.url);
      page = await browser.follow(await browser.post(loginUrl, { ...login.fields, email: EMAIL, password: PASSWORD }), loginUrl);

      // A third-party project: the hub asks for consent.
      expect(page.body, context(browser)).toContain('/consent"');
      const consent = parseForm(page.body, '/consent');
      expect(consent.fields.csrf).toBeTruthy();
      const consentUrl = new URL(consent.action, page.url);
      page = await browser.follow(await browser.post(consentUrl, consent.fields), consentUrl);

      // The hub redirected to Apache's redirect URI with a code, the state and (RFC 9207) iss;
      // Apache redeemed the code and sent the browser back to the page it first asked for.
      const callback = browser.hops.find((hop) => hop.url.startsWith(`${redirectUri}?`));
      expect(callback, context(browser)).toBeDefined();
      const callbackParams = new URL(callback!.url).searchParams;
      expect(callbackParams.get('error')).toBeNull();
      expect(callbackParams.get('code')).toBeTruthy();
      expect(callbackParams.get('state')).toBeTruthy();
      expect(callbackParams.get('iss')).toBe(t!.url);
      expect(callback!.status, context(browser)).toBe(302);
      expect(new URL(callback!.location!, redirectUri).toString()).toBe(start);

      expect(page.response.status, context(browser)).toBe(200);
      expect(page.url).toBe(start);
      const report = parseReport(page.body);
      expect(report, context(browser)).toMatchObject({
        AUTH_TYPE: 'openid-connect',
        REMOTE_USER: EMAIL, // OIDCRemoteUserClaim email
        OIDC_CLAIM_iss: t!.url,
        OIDC_CLAIM_aud: CLIENT_ID,
        OIDC_CLAIM_sub: userId,
        OIDC_CLAIM_email: EMAIL,
        OIDC_CLAIM_email_verified: '0', // JSON false; the account was created unverified
        OIDC_CLAIM_name: FULL_NAME,
      });
      expect(report.OIDC_CLAIM_nonce).toBeTruthy();
      expect(Number(report.OIDC_CLAIM_exp)).toBeGreaterThan(Date.now() / 1000);

      // The access token Apache got is the hub's RFC 9068 JWT for this project's API.
      expect(report.OIDC_access_token).toBeTruthy();
      expect(decodeJwt(report.OIDC_access_token)).toMatchObject({ iss: t!.url, aud: 'urn:nexus:apache', sub: userId, client_id: CLIENT_ID });
      expect(browser.cookieNames()).toContain(SESSION_COOKIE);

      // The session is Apache's own: the next visit is served without a trip to the hub.
      const hopsBefore = browser.hops.length;
      const again = await browser.get(`${apache!.url}/protected/again`);
      expect(again.status, context(browser)).toBe(200);
      expect(parseReport(again.body)).toMatchObject({ REMOTE_USER: EMAIL, PATH_INFO: '/again', OIDC_CLAIM_sub: userId });
      expect(browser.hops.slice(hopsBefore).map((hop) => new URL(hop.url).origin)).toEqual([apache!.url]);

      // Apache's own log attributes the request to the signed-in user.
      // Apache writes its access log after answering: allow it a moment on a busy machine.
      await expect.poll(() => apache!.accessLog(), { timeout: 5_000 }).toContain(`"GET /protected/again HTTP/1.1" 200 user=${EMAIL}`);
    });
    // Nothing else went wrong on Apache's side (issuer, nonce, signature, token endpoint...).
    expect(problems, context(browser)).toEqual([]);
    signedIn = browser;
  });

  it('signs out through the hub (RP-initiated logout with id_token_hint) and back to Apache', async () => {
    expect(signedIn, 'needs the sign-in test').toBeDefined();
    const browser = signedIn!;
    const logout = `${redirectUri}?logout=${encodeURIComponent(loggedOutUrl)}`;

    const response = await browser.get(logout);
    expect(response.status, context(browser)).toBe(302);
    const endSession = new URL(response.location!);
    expect(endSession.origin + endSession.pathname).toBe(`${t!.url}/session/end`);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(loggedOutUrl);
    const hint = endSession.searchParams.get('id_token_hint');
    expect(hint).toBeTruthy();
    expect(decodeJwt(hint!)).toMatchObject({ iss: t!.url, aud: CLIENT_ID, sub: userId });
    // Apache ended its own session before leaving.
    expect(browser.cookieNames()).not.toContain(SESSION_COOKIE);

    // The hub asks the person to confirm, then returns to the registered post-logout URI.
    const confirmPage = await browser.follow(response, logout);
    expect(confirmPage.body, context(browser)).toContain('Sign out');
    const form = parseForm(confirmPage.body, '/session/end/confirm');
    const formUrl = new URL(form.action, confirmPage.url);
    const done = await browser.follow(await browser.post(formUrl, { ...form.fields, logout: 'yes' }), formUrl);
    expect(new URL(done.url).origin + new URL(done.url).pathname, context(browser)).toBe(loggedOutUrl);
    expect(done.response.status).toBe(200);
    expect(done.body).toContain('signed out of the Apache app');

    // Both sessions are gone: the protected page sends the person to the hub's login page again.
    const start = `${apache!.url}/protected/`;
    const again = await browser.follow(await browser.get(start), start);
    expect(new URL(again.url).pathname, context(browser)).toMatch(/^\/interaction\/[^/]+$/);
    expect(again.body).toContain('name="password"');
  });

  it('refuses an authorization response it did not ask for (forged state)', async () => {
    const browser = new CookieBrowser();
    const response = await browser.get(`${redirectUri}?code=forged&state=not-a-state&iss=${encodeURIComponent(t!.url)}`);
    // mod_auth_openidc answers with an error page; it never signs anyone in.
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.body).not.toContain('REMOTE_USER=');
    expect(browser.cookieNames()).not.toContain(SESSION_COOKIE);
  });
});
