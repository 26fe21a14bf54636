// Header hygiene, both ways. Towards the upstream: every inbound `x-nexus-*` header is dropped
// (matched lowercased with `_` read as `-`, since WSGI/PHP upstreams map `X_Nexus_Email` onto the
// same variable: oauth2-proxy CVE-2025-64484), hop-by-hop headers go (and a `Connection:` that
// names an identity header is refused: Oathkeeper GHSA-w9mr-28mw-j8hg), credentials and cookies
// go, X-Forwarded-* are rebuilt; then every identity header is SET, empty when it does not
// apply, never conditionally (barbacane#184). Towards the caller: hop-by-hop headers and
// Set-Cookie go (an upstream must not set cookies on the hub's origin).
import type { IncomingHttpHeaders } from 'node:http';
import { invalidRequest } from './errors.js';

export const IDENTITY_HEADERS = {
  userId: 'x-nexus-user-id',
  email: 'x-nexus-email',
  project: 'x-nexus-project',
  role: 'x-nexus-role',
  plan: 'x-nexus-plan',
  scopes: 'x-nexus-scopes',
  authMethod: 'x-nexus-auth-method',
  keyId: 'x-nexus-key-id',
  requestId: 'x-nexus-request-id',
  assertion: 'x-nexus-assertion',
} as const;

/** The identity of a caller in one project: every identity header but the per-request id. */
export type Identity = Record<Exclude<keyof typeof IDENTITY_HEADERS, 'requestId'>, string>;

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'trailers',
  'transfer-encoding', 'upgrade', 'http2-settings',
]);

// Credentials (never forwarded: the assertion replaces them), cookies (the hub's session must
// not reach a project), and what the gateway itself rebuilds.
const DROPPED_INBOUND = new Set([
  'host', 'authorization', 'x-api-key', 'cookie', 'forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
  'x-forwarded-port', 'x-forwarded-prefix', 'x-real-ip', 'x-request-id',
  // Node already answered 100 Continue to the caller; undici refuses to send Expect itself.
  'expect',
]);

const DROPPED_OUTBOUND = new Set(['set-cookie', 'set-cookie2', 'content-length-hint']);

// What the gateway answers with itself, whatever the upstream says: the request id, the rate-limit
// fields, the hub origin's HSTS and the project's CORS policy (access-control-*, matched apart).
const GATEWAY_OWNED = new Set(['x-request-id', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'ratelimit', 'ratelimit-policy', 'strict-transport-security']);

// Not sent with a 204, 205 or 304 (no body follows them).
const BODY_FIELDS = new Set(['content-length', 'content-type', 'transfer-encoding']);

/** `X_Nexus-Email` and `x-nexus-email` are one name to an upstream. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes('_') ? lower.replace(/_/g, '-') : lower;
}

const isIdentityName = (canonical: string) => canonical.startsWith('x-nexus-');

function connectionTokens(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value.join(',') : value).split(',').map((token) => canonicalName(token.trim())).filter(Boolean);
}

/** Refuses a request whose Connection header names an identity header (it would drop ours). */
export function checkConnection(headers: IncomingHttpHeaders): Set<string> {
  const named = new Set(connectionTokens(headers.connection));
  for (const token of named) if (isIdentityName(token)) throw invalidRequest('the Connection header may not name an X-Nexus header');
  return named;
}

export interface Forwarding {
  /** The X-Forwarded-For chain the upstream receives (trusted entries, then the peer). */
  forwardedFor: string;
  proto: string;
  host: string;
}

/** The identity headers as a name, value list (reused for every request of one caller and assertion). */
export function identityPairs(identity: Identity): string[] {
  const out: string[] = [];
  for (const key of Object.keys(identity) as Array<keyof Identity>) out.push(IDENTITY_HEADERS[key], identity[key]);
  return out;
}

/** Headers for the upstream request as a flat [name, value, ...] list (duplicates kept, in order). */
export function upstreamHeaders(rawHeaders: string[], named: Set<string>, identity: readonly string[], requestId: string, forwarding: Forwarding): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const canonical = canonicalName(name);
    if (isIdentityName(canonical) || DROPPED_INBOUND.has(canonical) || named.has(canonical)) continue;
    if (HOP_BY_HOP.has(canonical)) continue;
    out.push(name, rawHeaders[i + 1]);
  }
  out.push('x-forwarded-for', forwarding.forwardedFor, 'x-forwarded-proto', forwarding.proto, 'x-forwarded-host', forwarding.host);
  for (let i = 0; i < identity.length; i++) out.push(identity[i]);
  out.push(IDENTITY_HEADERS.requestId, requestId);
  return out;
}

/**
 * Appends the upstream's answer headers that may reach the caller to `out` (name, value, ...);
 * `bodyless`: a 204/205/304, which carries no body fields. Returns whether a Content-Type was among them.
 */
export function pushResponseHeaders(out: string[], headers: Record<string, string | string[] | undefined>, bodyless: boolean): boolean {
  const named = headers.connection === undefined ? undefined : new Set(connectionTokens(headers.connection));
  let typed = false;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const canonical = canonicalName(name);
    if (HOP_BY_HOP.has(canonical) || DROPPED_OUTBOUND.has(canonical) || GATEWAY_OWNED.has(canonical) || canonical.startsWith('access-control-')) continue;
    if (named?.has(canonical) || (bodyless && BODY_FIELDS.has(canonical))) continue;
    if (canonical === 'content-type') typed = true;
    if (typeof value === 'string') out.push(name, value);
    else for (const one of value) out.push(name, one);
  }
  return typed;
}
