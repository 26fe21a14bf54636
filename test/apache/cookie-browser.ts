// A small browser for tests that span two web servers (here Apache's mod_auth_openidc and the
// hub): one cookie jar following RFC 6265 (cookies belong to a host, not a port; Path and
// Domain matching; Max-Age/Expires deletion), manual redirects, and a log of every hop.
// test/support/browser.ts keeps cookies for the hub's origin only, which cannot carry
// mod_auth_openidc's state cookie across the round trip through the hub.
// Requests go through node:http rather than fetch: undici always sends `Sec-Fetch-Mode: cors`,
// and mod_auth_openidc (rightly) answers 401 instead of redirecting to the provider for anything
// that is not a top-level navigation. This browser sends what a browser's navigation sends.
import http from 'node:http';

export interface BrowserResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  location: string | null;
  body: string;
}

interface Cookie {
  name: string;
  value: string;
  /** Host the cookie was set by (host-only) or its Domain attribute (lower-case, no dot). */
  domain: string;
  hostOnly: boolean;
  path: string;
  expires: number | undefined;
}

export interface Hop {
  method: string;
  url: string;
  status: number;
  location: string | null;
}

export interface Page {
  response: BrowserResponse;
  /** URL of the last request made (or of the redirect target when stopped before it). */
  url: string;
  body: string;
}

function defaultPath(url: URL) {
  const path = url.pathname;
  if (!path.startsWith('/') || path.lastIndexOf('/') === 0) return '/';
  return path.slice(0, path.lastIndexOf('/'));
}

function pathMatches(requestPath: string, cookiePath: string) {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function domainMatches(host: string, cookie: Cookie) {
  if (cookie.hostOnly) return host === cookie.domain;
  return host === cookie.domain || host.endsWith(`.${cookie.domain}`);
}

export class CookieBrowser {
  private cookies: Cookie[] = [];
  readonly hops: Hop[] = [];

  /** Cookies that would be sent to `url`, as name → value. */
  cookiesFor(url: string | URL): Map<string, string> {
    const target = new URL(url);
    const now = Date.now();
    this.cookies = this.cookies.filter((c) => c.expires === undefined || c.expires > now);
    const matching = this.cookies
      .filter((c) => domainMatches(target.hostname, c) && pathMatches(target.pathname, c.path))
      // RFC 6265 5.4: longer paths first.
      .sort((a, b) => b.path.length - a.path.length);
    return new Map(matching.map((c) => [c.name, c.value]));
  }

  cookieNames(): string[] {
    return this.cookies.map((c) => c.name);
  }

  private store(url: URL, header: string) {
    const [pair, ...attributes] = header.split(';');
    const index = pair.indexOf('=');
    if (index <= 0) return;
    const cookie: Cookie = {
      name: pair.slice(0, index).trim(),
      value: pair.slice(index + 1).trim(),
      domain: url.hostname,
      hostOnly: true,
      path: defaultPath(url),
      expires: undefined,
    };
    let maxAge: number | undefined;
    for (const attribute of attributes) {
      const eq = attribute.indexOf('=');
      const key = (eq < 0 ? attribute : attribute.slice(0, eq)).trim().toLowerCase();
      const value = eq < 0 ? '' : attribute.slice(eq + 1).trim();
      if (key === 'path' && value.startsWith('/')) cookie.path = value;
      else if (key === 'domain' && value) {
        const domain = value.replace(/^\./, '').toLowerCase();
        if (!domainMatches(url.hostname, { ...cookie, domain, hostOnly: false })) return; // foreign domain: ignored
        cookie.domain = domain;
        cookie.hostOnly = false;
      } else if (key === 'max-age' && /^-?\d+$/.test(value)) maxAge = Number(value);
      else if (key === 'expires') {
        const at = Date.parse(value);
        if (!Number.isNaN(at)) cookie.expires = at;
      }
    }
    if (maxAge !== undefined) cookie.expires = maxAge <= 0 ? 0 : Date.now() + maxAge * 1000;
    this.cookies = this.cookies.filter(
      (c) => !(c.name === cookie.name && c.domain === cookie.domain && c.path === cookie.path),
    );
    if (cookie.expires === undefined || cookie.expires > Date.now()) this.cookies.push(cookie);
  }

  async request(url: string | URL, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<BrowserResponse> {
    const target = new URL(url);
    if (target.protocol !== 'http:') throw new Error(`CookieBrowser speaks plain http only: ${target}`);
    const method = init.method ?? 'GET';
    const headers: Record<string, string> = {
      accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      'user-agent': 'nexus-test-browser/1.0',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
      ...init.headers,
    };
    const cookies = this.cookiesFor(target);
    if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
    const response = await new Promise<BrowserResponse>((resolve, reject) => {
      const req = http.request(target, { method, headers, agent: false, family: 4 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          location: res.headers.location ?? null,
          body: Buffer.concat(chunks).toString('utf8'),
        }));
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`timeout: ${method} ${target}`)));
      req.on('error', reject);
      req.end(init.body);
    });
    for (const header of response.headers['set-cookie'] ?? []) this.store(target, header);
    this.hops.push({ method, url: target.toString(), status: response.status, location: response.location });
    return response;
  }

  get(url: string | URL) {
    return this.request(url);
  }

  post(url: string | URL, form: Record<string, string>) {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin },
      body: new URLSearchParams(form).toString(),
    });
  }

  /**
   * Follows redirects (GET, as browsers do after 302/303) across origins until a page that is
   * not a redirect. `stopAt` may end the walk before requesting a URL (returned unrequested).
   */
  async follow(response: BrowserResponse, from: string | URL, stopAt?: (url: URL) => boolean): Promise<Page> {
    let current = response;
    let url = new URL(from);
    for (let hops = 0; hops < 25; hops++) {
      const location = current.location;
      if (!location || current.status < 300 || current.status >= 400) break;
      url = new URL(location, url);
      if (stopAt?.(url)) return { response: current, url: url.toString(), body: '' };
      current = await this.get(url);
    }
    if (current.status >= 300 && current.status < 400) throw new Error(`too many redirects, last at ${url}`);
    return { response: current, url: url.toString(), body: current.body };
  }

  /** The hops so far, one per line, for failure messages. */
  trace() {
    return this.hops.map((h) => `${h.method} ${h.url} -> ${h.status}${h.location ? ` ${h.location}` : ''}`).join('\n');
  }
}
