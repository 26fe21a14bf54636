// What the mailed-link tests share: a hub that sends its mail to a real SMTP server on loopback,
// sign-up and sign-in through the real pages, and following a mailed link the way a person does
// (GET shows a button, the button's POST spends the link).
import { expect } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { startSmtp, type ReceivedMail, type TestSmtp } from '../support/smtp.js';
import { authorize, Browser, parseForm, pkcePair } from '../support/browser.js';
import { postForm } from '../support/oauth.js';

export { together, countStatuses } from '../hardening/login-support.js';

export const PASSWORD = 'correct horse battery';
export const NEW_PASSWORD = 'a brand new passphrase';

export interface FlowHub {
  t: TestHub;
  smtp: TestSmtp;
  stop(): Promise<void>;
}

/**
 * A hub mailing to a loopback SMTP server. TRUST_PROXY lets each test speak from its own
 * client address (X-Forwarded-For), so the per-IP mail limits of one test leave the others alone.
 */
export async function startFlowHub(extraEnv: Record<string, string> = {}): Promise<FlowHub> {
  const smtp = await startSmtp();
  const t = await startTestHub({
    ...smtp.env, MAIL_RETRY_SCHEDULE: '1s,1s,1s', TRUST_PROXY: 'true', AUTHORIZATIONS_PER_IP_PER_MINUTE: '100000', SIGNUPS_PER_IP_PER_HOUR: '1000', ...extraEnv,
  });
  return { t, smtp, async stop() { await t.stop(); await smtp.stop(); } };
}

let addresses = 0;
/** A client address of its own for a test (see startFlowHub). */
export const freshIp = () => `198.51.100.${++addresses}`;

/** A browser that always speaks from one client address. */
export class IpBrowser extends Browser {
  constructor(base: string, readonly ip = freshIp()) {
    super(base);
  }

  override request(url: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.ip);
    return super.request(url, { ...init, headers });
  }
}

export function authorizeUrl(clientId = 'sales', redirectUri = 'http://localhost:3001/auth/callback', extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkcePair();
  const params = new URLSearchParams({
    client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'openid email', code_challenge: challenge, code_challenge_method: 'S256', state: 'st', ...extra,
  });
  return { url: `/auth?${params}`, verifier };
}

/** Signs up through the real pages of a new authorization request; the answer to the sign-up form. */
export async function signUp(t: TestHub, email: string, password = PASSWORD, browser = new IpBrowser(t.url)) {
  const login = await browser.follow(await browser.get(authorizeUrl().url));
  const signupUrl = parseForm(login.body, '/login').action.replace('/login', '/signup');
  const signup = await browser.follow(await browser.get(signupUrl));
  const form = parseForm(signup.body, '/signup');
  const response = await browser.post(form.action, { ...form.fields, name: 'Someone', email, password });
  return { browser, form, response, body: await response.text() };
}

/** Signs in to the hub's own pages; the /account page (or wherever returnTo leads). */
export async function signInToAccount(browser: Browser, email: string, password = PASSWORD, returnTo = '/account') {
  const login = await browser.follow(await browser.get(`/account/login?returnTo=${encodeURIComponent(returnTo)}`));
  const { action, fields } = parseForm(login.body, '/login');
  const page = await browser.follow(await browser.post(action, { ...fields, email, password }));
  expect(new URL(page.url).pathname, page.body.slice(0, 800)).toBe(returnTo);
  return page;
}

export const SALES_CALLBACK = 'http://localhost:3001/auth/callback';

/** Signs in to the sales project through the real pages: its tokens (a refresh token among them). */
export async function signInToSales(t: TestHub, email: string, password = PASSWORD, browser: Browser = new IpBrowser(t.url)) {
  const result = await authorize(browser, { clientId: 'sales', redirectUri: SALES_CALLBACK, email, password, scope: 'openid email offline_access' });
  expect(result.code, result.body.slice(0, 800)).toBeTruthy();
  const tokens = await postForm(t, '/token', 'sales', { grant_type: 'authorization_code', code: result.code!, code_verifier: result.verifier, redirect_uri: SALES_CALLBACK });
  expect(tokens.status, tokens.text).toBe(200);
  return { browser, tokens: tokens.body };
}

/** Whether this browser is still signed in to the hub (its /account does not send it to sign in). */
export async function isSignedIn(browser: Browser): Promise<boolean> {
  const response = await browser.get('/account');
  return response.status === 200;
}

/** The link of a received mail that leads to `path`. */
export function linkIn(mail: ReceivedMail, path: string): string {
  const link = mail.links.find((candidate) => new URL(candidate).pathname === path);
  expect(link, mail.text).toBeTruthy();
  return link!;
}

/** Opens a mailed link: the page it shows and the form of its button. */
export async function openLink(browser: Browser, link: string) {
  const response = await browser.get(link);
  const body = await response.text();
  return { status: response.status, body, form: response.status === 200 ? parseForm(body, new URL(link).pathname) : undefined };
}

/** Presses the button of a mailed link's page. */
export async function pressLink(browser: Browser, link: string, values: Record<string, string> = {}) {
  const page = await openLink(browser, link);
  expect(page.status, page.body.slice(0, 800)).toBe(200);
  const response = await browser.post(page.form!.action, { ...page.form!.fields, ...values });
  return { status: response.status, body: await response.text(), response };
}

/** The hub's stored events of a type about a user. */
export function eventsOf(t: TestHub, type: string, userId: string) {
  return t.hub.db.prisma.event.findMany({ where: { type, userId }, orderBy: { createdAt: 'asc' } });
}

/** Mails received so far for `to` whose subject contains `subject`. */
export const mailsTo = (smtp: TestSmtp, to: string, subject: string) => smtp.messages.filter((m) => m.to.includes(to) && m.subject.includes(subject));
