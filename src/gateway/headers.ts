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

export type Identity = Record<keyof typeof IDENTITY_HEADERS, string>;

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

/** `X_Nexus-Email` and `x-nexus-email` are one name to an upstream. */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
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

/** Headers for the upstream request as a flat [name, value, ...] list (duplicates kept, in order). */
export function upstreamHeaders(rawHeaders: string[], named: Set<string>, identity: Identity, forwarding: Forwarding): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const canonical = canonicalName(name);
    if (isIdentityName(canonical) || DROPPED_INBOUND.has(canonical) || named.has(canonical)) continue;
    if (HOP_BY_HOP.has(canonical)) continue;
    out.push(name, rawHeaders[i + 1]);
  }
  out.push('x-forwarded-for', forwarding.forwardedFor, 'x-forwarded-proto', forwarding.proto, 'x-forwarded-host', forwarding.host);
  for (const key of Object.keys(IDENTITY_HEADERS) as Array<keyof Identity>) out.push(IDENTITY_HEADERS[key], identity[key]);
  return out;
}

/** The upstream's answer headers that may reach the caller. */
export function responseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const named = new Set(connectionTokens(headers.connection));
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const canonical = canonicalName(name);
    if (HOP_BY_HOP.has(canonical) || DROPPED_OUTBOUND.has(canonical) || named.has(canonical)) continue;
    out[name] = value;
  }
  return out;
}
