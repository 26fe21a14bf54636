// A small HTTP/1.1 client for the benchmark: keep-alive connections to one loopback server,
// a path-aware cookie jar, form parsing and PKCE. Built on node:http only (no dependency).
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';

export interface Target {
  /** Name shown in the report ("Nexus hub", "bare oidc-provider"). */
  name: string;
  port: number;
  /** Issuer URL the server announces (absolute redirects start with it). */
  issuer: string;
  /** Host header: the issuer's host and port (the connection itself goes to 127.0.0.1). */
  host: string;
  /** Process whose CPU and memory the report reads. */
  pid: number;
  /** Keep-alive connections, at most `maxSockets` of them. */
  agent: http.Agent;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function keepAliveAgent(maxSockets: number) {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
}

export interface RequestOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string;
  /** Milliseconds before the request is abandoned (default 30 s). */
  timeoutMs?: number;
}

/** One request to 127.0.0.1:<target.port>; resolves with the whole body as text. */
export function send(target: Target, path: string, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // Browsers address the server by the issuer's host name (absolute redirects are built from it).
    const headers: http.OutgoingHttpHeaders = { host: target.host, ...options.headers };
    if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
    const req = http.request(
      { host: '127.0.0.1', port: target.port, method: options.method ?? 'GET', path, headers, agent: target.agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error(`timeout: ${options.method ?? 'GET'} ${path}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export function basicAuth(clientId: string, secret: string) {
  // RFC 6749 2.3.1: form-urlencode id and secret before base64.
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/** A browser's cookies for one origin: name/value pairs scoped by path. */
export class CookieJar {
  private readonly cookies = new Map<string, { value: string; path: string }>();

  store(reply: Reply) {
    for (const header of reply.headers['set-cookie'] ?? []) {
      const [pair, ...attributes] = header.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      let path = '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.split('=');
        const lower = key.trim().toLowerCase();
        if (lower === 'path') path = val.trim() || '/';
        if (lower === 'max-age' && Number(val) <= 0) expired = true;
        if (lower === 'expires' && Date.parse(val) <= Date.now()) expired = true;
      }
      const key = `${name};${path}`;
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { value, path });
    }
  }

  header(requestPath: string): string | undefined {
    const pathname = requestPath.split('?')[0];
    const pairs: string[] = [];
    for (const [key, { value, path }] of this.cookies) {
      const inScope = path === '/' || pathname === path || pathname.startsWith(path.endsWith('/') ? path : `${path}/`);
      if (inScope) pairs.push(`${key.slice(0, key.indexOf(';'))}=${value}`);
    }
    return pairs.length ? pairs.join('; ') : undefined;
  }
}

/** A browser-like request: sends and stores the jar's cookies. */
export async function browse(target: Target, jar: CookieJar, path: string, options: RequestOptions = {}): Promise<Reply> {
  const cookie = jar.header(path);
  const headers: http.OutgoingHttpHeaders = { accept: 'text/html', ...options.headers };
  if (cookie) headers.cookie = cookie;
  const reply = await send(target, path, { ...options, headers });
  jar.store(reply);
  return reply;
}

/** Reads a form's action and its named inputs (hidden or prefilled) from an HTML page. */
export function parseForm(html: string, actionContains: string) {
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const action = decodeEntities(match[1].match(/action="([^"]*)"/)?.[1] ?? '');
    if (!action.includes(actionContains)) continue;
    const fields: Record<string, string> = {};
    for (const input of match[2].matchAll(/<input\b([^>]*)>/g)) {
      const name = input[1].match(/name="([^"]*)"/)?.[1];
      if (name) fields[name] = decodeEntities(input[1].match(/value="([^"]*)"/)?.[1] ?? '');
    }
    return { action, fields };
  }
  throw new Error(`no form with action containing "${actionContains}" in page: ${html.slice(0, 300)}`);
}

function decodeEntities(value: string) {
  return value
    .replaceAll('&#34;', '"').replaceAll('&quot;', '"').replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}
