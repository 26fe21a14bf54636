// Signing in to the hub's own pages (/account, /pricing) through the hub-internal
// `nexus-account` client (see self-sign-in.ts), and keeping that client registered.
import type { ClientRegistry } from '../clients/registry.js';
import { ClientError } from '../clients/registry.js';
import { redirectUriProblem } from '../clients/definition.js';
import type { Logger } from '../logger.js';
import { selfSignInRoutes } from './self-sign-in.js';

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

export function accountSignInRoutes(issuer: string, secureCookies: boolean) {
  return selfSignInRoutes(issuer, secureCookies, { base: '/account', clientId: ACCOUNT_CLIENT_ID, stateCookie: STATE_COOKIE, safeReturnTo, deniedCode: (error) => error });
}
