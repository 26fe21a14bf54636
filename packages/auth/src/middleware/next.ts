// Next.js `middleware.ts`:
//   export const middleware = nexusNext({ issuer, audience });
//   export const config = { matcher: ['/dashboard/:path*', '/api/:path*'] };
// Returns nothing (the request continues) for a valid token; otherwise a redirect to the login
// page for pages, or a 401/403 JSON response for /api routes. Runs on the Edge runtime: only
// Web APIs (fetch, Request, Response) and jose are used.
import { NexusAuthError } from '../errors.js';
import { denial, extractToken, toVerifier, type ProtectOptions, type VerifierInput } from './shared.js';

/** Paths that stay public (the login page itself, assets): the path itself and what is below it. */
export interface NextOptions extends ProtectOptions {
  publicPaths?: string[];
}

function isBelow(path: string, prefix: string) {
  const base = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === base || path.startsWith(`${base}/`);
}

export function nexusNext(verifier: VerifierInput, options: NextOptions = {}) {
  const v = toVerifier(verifier);
  const publicPaths = options.publicPaths ?? ['/login', '/auth', '/_next', '/favicon.ico'];
  return async function middleware(request: Request): Promise<Response | undefined> {
    const url = new URL(request.url);
    if (publicPaths.some((prefix) => isBelow(url.pathname, prefix))) return undefined;
    try {
      await v.verify(extractToken(request.headers.get('authorization'), request.headers.get('cookie')) ?? '');
      return undefined;
    } catch (error) {
      if (!(error instanceof NexusAuthError)) throw error;
      const answer = denial(error, { path: url.pathname, url: url.pathname + url.search, method: request.method }, options);
      if (answer.status === 302) return Response.redirect(new URL(answer.headers.location, url), 302);
      return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { ...answer.headers, 'content-type': 'application/json' } });
    }
  };
}
