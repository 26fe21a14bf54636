// Per-project CORS for browser apps: the allowed origins are the project's configured
// gateway.corsOrigins, or else the origins of its redirect URIs. Credentials are bearer tokens,
// never cookies, so Access-Control-Allow-Credentials is never sent.
import type { RegisteredClient } from '../clients/registry.js';

const EXPOSED = 'RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, X-Request-Id';
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

const cache = new WeakMap<RegisteredClient, Set<string>>();

export function allowedOrigins(project: RegisteredClient): Set<string> {
  let origins = cache.get(project);
  if (!origins) {
    const listed = project.gateway?.corsOrigins ?? project.redirectUris.map((uri) => {
      try { return new URL(uri).origin; } catch { return ''; }
    });
    origins = new Set(listed.filter(Boolean));
    cache.set(project, origins);
  }
  return origins;
}

/** Headers for an answer to a request from `origin`; none when the origin is not allowed. */
export function corsHeaders(project: RegisteredClient, origin: string | undefined): Record<string, string> {
  if (!origin || !allowedOrigins(project).has(origin)) return {};
  return { 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED, vary: 'Origin' };
}

/** A preflight's answer headers, or undefined when it is refused. */
export function preflightHeaders(project: RegisteredClient, origin: string | undefined, requestedHeaders: string | undefined): Record<string, string> | undefined {
  const base = corsHeaders(project, origin);
  if (!base['access-control-allow-origin']) return undefined;
  const headers = requestedHeaders && requestedHeaders.length <= 2048 && HEADER_LIST.test(requestedHeaders.trim()) ? requestedHeaders.trim() : 'authorization, content-type';
  return { ...base, 'access-control-allow-methods': ALLOWED_METHODS, 'access-control-allow-headers': headers, 'access-control-max-age': '600' };
}
