// A minimal browser for driving the hub's real pages over HTTP: a cookie jar, manual redirects
// and form parsing. Enough to sign in through the login and consent pages like a person would.
import { createHash, randomBytes } from 'node:crypto';

export class Browser {
  private readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  private remember(response: Response) {
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(header) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url, this.base);
    const headers = new Headers(init.headers);
    if (target.origin === new URL(this.base).origin && this.cookies.size) headers.set('cookie', this.cookieHeader());
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    if (target.origin === new URL(this.base).origin) this.remember(response);
    return response;
  }

  get(url: string) {
    return this.request(url, { headers: { accept: 'text/html' } });
  }

  post(url: string, form: Record<string, string>) {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** Follows redirects within the hub; stops at the first page or at a redirect that leaves it. */
  async follow(response: Response): Promise<{ response: Response; url: string; body: string }> {
    let current = response;
    let url = current.url;
    for (let hops = 0; hops < 20; hops++) {
      const location = current.headers.get('location');
      if (!location || current.status < 300 || current.status >= 400) break;
      const next = new URL(location, url || this.base);
      url = next.toString();
      if (next.origin !== new URL(this.base).origin) return { response: current, url, body: '' };
      current = await this.get(url);
    }
    return { response: current, url, body: await current.text() };
  }
}

/** Reads a form's action and its fields (hidden and prefilled) from a page. */
export function parseForm(html: string, actionContains = '') {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)];
  const form = forms.find((match) => (match[1].match(/action="([^"]*)"/)?.[1] ?? '').includes(actionContains));
  if (!form) throw new Error(`no form with action containing "${actionContains}" in page:\n${html.slice(0, 2000)}`);
  const action = decodeEntities(form[1].match(/action="([^"]*)"/)?.[1] ?? '');
  const fields: Record<string, string> = {};
  for (const input of form[2].matchAll(/<input\b([^>]*)>/g)) {
    const name = input[1].match(/name="([^"]*)"/)?.[1];
    const value = input[1].match(/value="([^"]*)"/)?.[1] ?? '';
    if (name) fields[name] = decodeEntities(value);
  }
  return { action, fields };
}

function decodeEntities(value: string) {
  return value.replaceAll('&amp;', '&').replaceAll('&#34;', '"').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>');
}

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

export interface AuthorizeOptions {
  clientId: string;
  redirectUri: string;
  scope?: string;
  email: string;
  password: string;
  /** Create the account on the sign-up page instead of signing in. */
  signup?: { name: string };
  extra?: Record<string, string>;
  /** Approve consent when the page asks (default true). */
  consent?: boolean;
}

/**
 * Runs an authorization request through the real login (or sign-up) and consent pages and
 * returns the redirect back to the project, with the code and the PKCE verifier.
 */
export async function authorize(browser: Browser, options: AuthorizeOptions) {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(8).toString('hex');
  const scope = options.scope ?? 'openid email profile offline_access';
  const params = new URLSearchParams({
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    response_type: 'code',
    scope,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce: randomBytes(8).toString('hex'),
    // OpenID Connect honours offline_access only together with prompt=consent.
    ...(scope.split(' ').includes('offline_access') ? { prompt: 'consent' } : {}),
    ...options.extra,
  });
  let page = await browser.follow(await browser.get(`/auth?${params}`));

  if (page.body.includes('/login"') && options.signup) {
    const signupPage = await browser.follow(await browser.get(parseForm(page.body, '/login').action.replace('/login', '/signup')));
    const { action, fields } = parseForm(signupPage.body, '/signup');
    page = await browser.follow(await browser.post(action, { ...fields, name: options.signup.name, email: options.email, password: options.password }));
  }
  // Sign-up never signs in by itself (it answers a registered address the same way): the
  // login form follows it.
  if (page.body.includes('/login"')) {
    const { action, fields } = parseForm(page.body, '/login');
    page = await browser.follow(await browser.post(action, { ...fields, email: options.email, password: options.password }));
  }
  if (page.body.includes('/consent"') && options.consent !== false) {
    const { action, fields } = parseForm(page.body, '/consent');
    page = await browser.follow(await browser.post(action, fields));
  }
  const returned = new URL(page.url);
  return { ...page, returned, code: returned.searchParams.get('code'), state, verifier, expectedState: state };
}
