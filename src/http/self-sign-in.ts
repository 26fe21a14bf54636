// Signing in to the hub's own pages (the account center, the console). The hub is a client of
// itself: a hub-internal client runs an ordinary authorization request (PKCE) through the login
// page, which leaves the browser with a hub session. The code it returns is not needed: the
// session is what the pages read, so the callback only checks `state` (kept in a signed cookie
// with the destination) and moves on.
import { createHash, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import { constantTimeEqual } from '../secrets/tokens.js';
import { HttpError } from './errors.js';

export interface SelfSignIn {
  /** `/account` or `/console`: the routes are `<base>/login` and `<base>/callback`. */
  base: string;
  clientId: string;
  stateCookie: string;
  /** The destination after signing in, when it is one of these pages (otherwise their start). */
  safeReturnTo: (value: unknown) => string;
  /** Runs before each sign-in starts (the console makes sure its client knows the callback). */
  beforeSignIn?: () => Promise<void>;
  /** The error code answered when the provider sent back `error` instead of a code. */
  deniedCode: (error: string) => string;
}

// The destination travels in a cookie, whose value may not hold `;`, `,`, spaces or characters
// beyond Latin-1 (the cookie library throws on them): base64url holds any path.
const pack = (returnTo: string) => Buffer.from(returnTo).toString('base64url');
const unpack = (packed: string | undefined) => Buffer.from(packed ?? '', 'base64url').toString();

export function selfSignInRoutes(issuer: string, secureCookies: boolean, options: SelfSignIn) {
  const { base, clientId, stateCookie, safeReturnTo } = options;
  const router = new Router();
  const cookie = { httpOnly: true, sameSite: 'lax' as const, secure: secureCookies, signed: true, maxAge: 10 * 60_000, overwrite: true };

  router.get(`${base}/login`, async (ctx) => {
    await options.beforeSignIn?.();
    const state = randomBytes(16).toString('base64url');
    ctx.cookies.set(stateCookie, `${state}|${pack(safeReturnTo(ctx.query.returnTo))}`, cookie);
    const params = new URLSearchParams({
      client_id: clientId, redirect_uri: `${issuer}${base}/callback`, response_type: 'code', scope: 'openid',
      state, code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'), code_challenge_method: 'S256',
    });
    ctx.redirect(`/auth?${params}`);
  });

  router.get(`${base}/callback`, (ctx) => {
    const [expected, returnTo] = (ctx.cookies.get(stateCookie, { signed: true }) ?? '').split('|');
    ctx.cookies.set(stateCookie, null, { ...cookie, maxAge: 0 });
    if (!expected || typeof ctx.query.state !== 'string' || !constantTimeEqual(expected, ctx.query.state)) {
      throw new HttpError(400, 'invalid_state', 'This sign-in was started elsewhere or has expired. Try again.', 'Sign-in expired');
    }
    if (ctx.query.error) throw new HttpError(403, options.deniedCode(String(ctx.query.error)), 'The sign-in was not completed.', 'Not signed in');
    ctx.redirect(safeReturnTo(unpack(returnTo)));
  });
  return router;
}
