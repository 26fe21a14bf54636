// Shared by the login, sign-up and client-IP tests: open the hub's login or sign-up form as a
// fresh browser would, submit it (optionally as if through a proxy), and start many requests at
// the same instant.
import type { TestHub } from '../support/hub.js';
import { Browser, parseForm, pkcePair } from '../support/browser.js';

/** These tests open many sign-in requests from one address: the per-IP limit on them is not what they test. */
export const MANY_AUTHORIZATIONS = { AUTHORIZATIONS_PER_IP_PER_MINUTE: '100000' };

export interface OpenForm {
  browser: Browser;
  action: string;
  fields: Record<string, string>;
  /** Submits the form with these values; `headers` such as X-Forwarded-For go along. */
  submit(values: Record<string, string>, headers?: Record<string, string>): Promise<Response>;
}

function authorizeUrl() {
  return `/auth?${new URLSearchParams({
    client_id: 'sales', redirect_uri: 'http://localhost:3001/auth/callback', response_type: 'code', scope: 'openid email',
    code_challenge: pkcePair().challenge, code_challenge_method: 'S256',
  })}`;
}

function formOn(browser: Browser, html: string, actionContains: string): OpenForm {
  const { action, fields } = parseForm(html, actionContains);
  return {
    browser, action, fields,
    submit: (values, headers = {}) => browser.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...headers },
      body: new URLSearchParams({ ...fields, ...values }).toString(),
    }),
  };
}

/** A new browser at the login page of a new authorization request. */
export async function openLogin(t: TestHub): Promise<OpenForm> {
  const browser = new Browser(t.url);
  const page = await browser.follow(await browser.get(authorizeUrl()));
  return formOn(browser, page.body, '/login');
}

/** A new browser at the sign-up page of a new authorization request. */
export async function openSignup(t: TestHub): Promise<OpenForm> {
  const login = await openLogin(t);
  const page = await login.browser.follow(await login.browser.get(login.action.replace('/login', '/signup')));
  return formOn(login.browser, page.body, '/signup');
}

export { together } from '../support/together.js';

export function countStatuses(responses: Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const response of responses) counts[response.status] = (counts[response.status] ?? 0) + 1;
  return counts;
}
