// Helpers for the SDK tests: a stand-in "hub" that only serves a JWKS (so tests can count
// requests, rotate, withdraw keys and take it down), token signing with jose, and a cookie jar
// that keeps cookies per origin (a project app and the hub on two ports).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import { expect } from 'vitest';
import { NexusAuthError } from '@nexus/auth';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(kid = `k-${randomBytes(4).toString('hex')}`, alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg };
  return { kid, privateKey, publicJwk };
}

export interface FakeHub {
  issuer: string;
  jwksUri: string;
  /** JWKS requests served so far. */
  readonly requests: number;
  /** What /jwks answers: the published keys, or an HTTP status to fail with. */
  publish(keys: SigningKey[] | JWK[]): void;
  failWith(status: number | undefined): void;
  /** Stops listening (connection refused), or starts again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** A local HTTP server on 127.0.0.1 serving `/jwks`; the issuer is its origin. */
export async function startFakeHub(keys: SigningKey[] = []): Promise<FakeHub> {
  let published: JWK[] = keys.map((k) => k.publicJwk);
  let status: number | undefined;
  let requests = 0;
  const handler: http.RequestListener = (req, res) => {
    if (req.url !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    requests++;
    if (status) {
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"unavailable"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: published }));
  };
  let server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  let listening = true;
  const stop = async () => {
    if (!listening) return;
    listening = false;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    get requests() { return requests; },
    publish(next) {
      published = next.map((k) => ('publicJwk' in k ? k.publicJwk : k));
    },
    failWith(next) { status = next; },
    down: stop,
    async up() {
      if (listening) return;
      server = http.createServer(handler);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      listening = true;
    },
    close: stop,
  };
}

export interface TokenOptions {
  issuer: string;
  audience?: string | string[];
  /** Claims added to (or, with undefined, removed from) the defaults. */
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  /** Seconds from now. */
  expiresIn?: number;
  iat?: number;
}

const now = () => Math.floor(Date.now() / 1000);

/** An access token shaped like the hub's (RFC 9068): RS256, typ at+jwt, kid, sub, client_id, scope. */
export async function signToken(key: SigningKey, options: TokenOptions): Promise<string> {
  const payload: JWTPayload & Record<string, unknown> = {
    iss: options.issuer,
    aud: options.audience ?? 'urn:nexus:sales',
    sub: 'user-1',
    client_id: 'sales',
    scope: 'leads:read',
    iat: options.iat ?? now(),
    exp: now() + (options.expiresIn ?? 300),
    jti: randomBytes(8).toString('hex'),
    ...options.claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  const header = { alg: 'RS256', typ: 'at+jwt', kid: key.kid, ...options.header };
  for (const [name, value] of Object.entries(header)) if (value === undefined) delete (header as Record<string, unknown>)[name];
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** An unsigned JWT (alg none) or any hand-assembled compact JWS. */
export function rawJwt(header: object, payload: object, signature = ''): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part(header)}.${part(payload)}.${signature}`;
}

/** Asserts a NexusAuthError with code, status and a message matching `message`. */
export async function expectAuthError(promise: Promise<unknown>, code: string, status: number, message?: RegExp) {
  const error = await promise.then(
    () => { throw new Error('expected the verification to fail, but it succeeded'); },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NexusAuthError);
  const auth = error as NexusAuthError;
  expect(auth.code).toBe(code);
  expect(auth.status).toBe(status);
  if (message) expect(auth.message).toMatch(message);
  return auth;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function listen(callback: http.RequestListener, port = 0): Promise<{ server: http.Server; port: number; close(): Promise<void> }> {
  const server = http.createServer(callback);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export { freePort } from '../support/process.js';

/**
 * A browser's cookie jar for several origins (here: the project app and the hub on two ports).
 * Redirects are followed by hand so tests can look at every hop.
 */
export class CookieJar {
  private readonly jars = new Map<string, Map<string, string>>();

  private jar(origin: string) {
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    return jar;
  }

  cookie(origin: string, name: string): string | undefined {
    return this.jars.get(new URL(origin).origin)?.get(name);
  }

  set(origin: string, name: string, value: string) {
    this.jar(new URL(origin).origin).set(name, value);
  }

  header(origin: string): string {
    return [...(this.jars.get(new URL(origin).origin) ?? [])].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** Applies Set-Cookie headers; deletions (Max-Age=0, an expiry in the past, empty value) remove. */
  store(origin: string, response: Response): string[] {
    const jar = this.jar(new URL(origin).origin);
    const set = response.headers.getSetCookie();
    for (const header of set) {
      const [pair, ...attributes] = header.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const attr = (key: string) => attributes.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
      const maxAge = attr('max-age');
      const expires = attr('expires');
      const gone = value === '' || (maxAge !== undefined && Number(maxAge) <= 0) || (expires !== undefined && Date.parse(expires) < Date.now());
      if (gone) jar.delete(name);
      else jar.set(name, value);
    }
    return set;
  }

  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    const headers = new Headers(init.headers);
    const cookie = this.header(target.origin);
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    this.store(target.origin, response);
    return response;
  }

  get(url: string | URL) {
    return this.request(url, { headers: { accept: 'text/html' } });
  }

  post(url: string | URL, form: Record<string, string>) {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams(form).toString(),
    });
  }

  /**
   * Follows redirects across origins until a page (non-3xx) or until `stopAt` says stop.
   * Returns every URL visited.
   */
  async follow(response: Response, from: string, stopAt?: (url: URL) => boolean) {
    let current = response;
    let url = new URL(from);
    const visited: string[] = [url.href];
    for (let hops = 0; hops < 20; hops++) {
      const location = current.headers.get('location');
      if (!location || current.status < 300 || current.status >= 400) break;
      url = new URL(location, url);
      visited.push(url.href);
      if (stopAt?.(url)) return { response: current, url, body: '', visited };
      current = await this.get(url);
    }
    return { response: current, url, body: await current.text(), visited };
  }
}
