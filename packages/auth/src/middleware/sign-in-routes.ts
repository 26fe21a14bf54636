// The sign-in routes, framework-neutral: GET /login starts, the callback completes, POST /logout
// ends; every other request reads (and silently refreshes) the session. The Koa and Express
// adapters only translate this answer into their response objects.
import { SignIn, SignInError, type CookieToSet, type SessionUser } from '../sign-in.js';

export interface SignInRoutes {
  loginPath?: string;
  logoutPath?: string;
}

export interface SignInRequest {
  method: string;
  path: string;
  /** The full URL of the request (the callback reads its query). */
  href: string;
  returnTo: unknown;
  cookieHeader: string | undefined;
}

export type SignInAnswer =
  | { kind: 'redirect'; location: string; cookies: CookieToSet[] }
  | { kind: 'failed'; status: 400 | 403; message: string; cookies: CookieToSet[] }
  | { kind: 'continue'; user: SessionUser | undefined; accessToken: string | undefined; cookies: CookieToSet[] };

export async function routeSignIn(signIn: SignIn, { loginPath = '/login', logoutPath = '/logout' }: SignInRoutes, request: SignInRequest): Promise<SignInAnswer> {
  const { method, path } = request;
  if (method === 'GET' && path === loginPath) {
    const { url, cookies } = await signIn.begin(typeof request.returnTo === 'string' ? request.returnTo : '/');
    return { kind: 'redirect', location: url, cookies };
  }
  if (method === 'GET' && path === signIn.callbackPath) {
    try {
      const { returnTo, cookies } = await signIn.complete(new URL(request.href), request.cookieHeader);
      return { kind: 'redirect', location: returnTo, cookies };
    } catch (error) {
      if (!(error instanceof SignInError)) throw error;
      return { kind: 'failed', status: error.code === 'access_denied' ? 403 : 400, message: `Sign-in failed: ${error.message}.`, cookies: [] };
    }
  }
  // POST only: a link or image on another site must not sign the user out.
  if (method === 'POST' && path === logoutPath) {
    const { url, cookies } = await signIn.logout(request.cookieHeader);
    return { kind: 'redirect', location: url, cookies };
  }
  const { user, accessToken, cookies } = await signIn.current(request.cookieHeader);
  return { kind: 'continue', user, accessToken, cookies };
}
