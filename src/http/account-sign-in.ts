// Signing in to the hub's own pages (/account, /pricing). The hub is a client of itself: the
// hub-internal `nexus-account` client runs an ordinary authorization request through the login
// page, which leaves the browser with a hub session. The code it returns is not needed: the
// session is what the pages read, so the callback only checks `state` and moves on.
import { createHash, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { ClientRegistry } from '../clients/registry.js';
import { ClientError } from '../clients/registry.js';
import { redirectUriProblem } from '../clients/definition.js';
import { constantTimeEqual } from '../secrets/tokens.js';
import type { Logger } from '../logger.js';
import { HttpError } from './errors.js';

export const ACCOUNT_CLIENT_ID = 'nexus-account';
const STATE_COOKIE = 'nexus_account_signin';

/** Registers (or corrects) the hub-internal client for the issuer the hub runs under. */
export async function ensureAccountClient(clients: ClientRegistry, issuer: string, log: Logger): Promise<void> {
  const redirectUri = `${issuer}/account/callback`;
  if (redirectUriProblem(redirectUri)) {
    log.warn({ issuer }, 'the account pages need an https issuer (or localhost); /account sign-in is off');
    return;
  }
  const definition = {
    id: ACCOUNT_CLIENT_ID, name: 'Your Nexus account', redirectUris: [redirectUri], postLogoutRedirectUris: [`${issuer}/`],
    grantTypes: ['authorization_code'], firstParty: true, public: true, audience: 'urn:nexus:account', scopes: [], access: 'open',
  };
  try {
    const current = await clients.get(ACCOUNT_CLIENT_ID);
    if (current.redirectUris[0] !== redirectUri) await clients.update(ACCOUNT_CLIENT_ID, definition);
  } catch (error) {
    if (!(error instanceof ClientError && error.code === 'not_found')) throw error;
    await clients.add(definition).catch((raced) => {
      if (!(raced instanceof ClientError && raced.code === 'already_exists')) throw raced;
    });
  }
}

// Longer destinations are not ours (the pages' own links are short) and would make the cookie
// too large for browsers to keep.
const MAX_RETURN_TO = 2048;

/**
 * A destination on this site: a path, not `//host` or `/\host`, without control characters
 * (URL parsers drop tabs and newlines, turning `/\t/evil` into `//evil`). The SDK has the same
 * rule for projects, but the hub does not import the published package (nor it the hub).
 */
function safeReturnTo(value: unknown): string {
  return typeof value === 'string' && value.length <= MAX_RETURN_TO && /^\/(?![/\\])[^\x00-\x1f\x7f]*$/.test(value) ? value : '/account';
}

// The destination travels in a cookie, whose value may not hold `;`, `,`, spaces or characters
// beyond Latin-1 (the cookie library throws on them): base64url holds any path.
const packReturnTo = (returnTo: string) => Buffer.from(returnTo).toString('base64url');
const unpackReturnTo = (packed: string | undefined) => Buffer.from(packed ?? '', 'base64url').toString();

export function accountSignInRoutes(issuer: string, secureCookies: boolean) {
  const router = new Router();
  const cookie = { httpOnly: true, sameSite: 'lax' as const, secure: secureCookies, signed: true, maxAge: 10 * 60_000, overwrite: true };

  router.get('/account/login', (ctx) => {
    const state = randomBytes(16).toString('base64url');
    ctx.cookies.set(STATE_COOKIE, `${state}|${packReturnTo(safeReturnTo(ctx.query.returnTo))}`, cookie);
    const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
    const params = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID, redirect_uri: `${issuer}/account/callback`, response_type: 'code', scope: 'openid',
      state, code_challenge: challenge, code_challenge_method: 'S256',
    });
    ctx.redirect(`/auth?${params}`);
  });

  router.get('/account/callback', (ctx) => {
    const [expected, returnTo] = (ctx.cookies.get(STATE_COOKIE, { signed: true }) ?? '').split('|');
    ctx.cookies.set(STATE_COOKIE, null, { ...cookie, maxAge: 0 });
    if (!expected || typeof ctx.query.state !== 'string' || !constantTimeEqual(expected, ctx.query.state)) {
      throw new HttpError(400, 'invalid_state', 'This sign-in was started elsewhere or has expired. Try again.', 'Sign-in expired');
    }
    if (ctx.query.error) throw new HttpError(403, String(ctx.query.error), 'The sign-in was not completed.', 'Not signed in');
    ctx.redirect(safeReturnTo(unpackReturnTo(returnTo)));
  });
  return router;
}
