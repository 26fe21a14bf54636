// What every framework adapter shares: where the token comes from, which requests are pages,
// and how a failure is answered.
import { NexusAuthError } from '../errors.js';
import { createVerifier, type Verifier, type VerifierOptions } from '../verifier.js';

/** The cookie a server-rendered project keeps the access token in (see signIn). */
export const TOKEN_COOKIE = 'nexus_token';

export interface ProtectOptions {
  /** Where a browser without a valid token is sent; `returnTo` is appended. Default /login. */
  loginUrl?: string;
  /** Whether a request is an API call (401 JSON) rather than a page (redirect). Default: path starts with /api/. */
  isApi?: (path: string) => boolean;
  /** realm of WWW-Authenticate. Default nexus. */
  realm?: string;
}

export type VerifierInput = Verifier | VerifierOptions;

export function toVerifier(input: VerifierInput): Verifier {
  return 'verify' in input ? input : createVerifier(input);
}

export function readCookie(header: string | undefined | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) {
      const raw = part.slice(index + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw; // malformed: handed on as is, so it fails verification as an invalid token
      }
    }
  }
  return undefined;
}

/**
 * Whether a post-sign-in destination stays on this site: a path, not `//host`, `/\host`, and
 * no control characters (URL parsers drop tabs and newlines, turning `/\t/evil` into `//evil`).
 */
export function isSafeReturnTo(value: unknown): value is string {
  return typeof value === 'string' && /^\/(?![/\\])[^\x00-\x1f\x7f]*$/.test(value);
}

/** The bearer token of the Authorization header, else the nexus_token cookie. */
export function extractToken(authorization: string | undefined | null, cookieHeader: string | undefined | null): string | undefined {
  const match = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
  return match?.[1] ?? readCookie(cookieHeader, TOKEN_COOKIE);
}

export interface Denial {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

/** How to answer a failed check: pages go to the login URL, APIs get RFC 6750 JSON. */
export function denial(error: NexusAuthError, request: { path: string; url: string; method: string }, options: ProtectOptions): Denial {
  const isApi = (options.isApi ?? ((path: string) => path.startsWith('/api/')))(request.path);
  if (!isApi && error.status === 401 && (request.method === 'GET' || request.method === 'HEAD')) {
    const login = options.loginUrl ?? '/login';
    const separator = login.includes('?') ? '&' : '?';
    return { status: 302, headers: { location: `${login}${separator}returnTo=${encodeURIComponent(request.url)}` } };
  }
  return {
    status: error.status,
    headers: { 'www-authenticate': error.wwwAuthenticate(options.realm), 'cache-control': 'no-store' },
    body: error.toJSON(),
  };
}
