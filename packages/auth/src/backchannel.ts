// The receiving side of OpenID Connect Back-Channel Logout 1.0: the hub POSTs a logout token
// (`logout_token=…`, form-encoded) when a session it holds ends; this verifies it (§2.6) and
// records the ended session in a LogoutStore, which SignIn consults on every request.
import { jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { discoverer } from './discovery.js';
import { JwksCache } from './jwks-cache.js';
import type { LogoutStore } from './logout-store.js';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export interface BackchannelLogoutOptions {
  issuer: string;
  clientId: string;
  /** The store the project's SignIn was given (`logouts`). */
  store: LogoutStore;
  /** Refuse tokens without `sid` (the project registered backchannelLogoutSessionRequired). */
  requireSid?: boolean;
  /** How long a local session may live: how long a logout of a user without sid is remembered. Default 30 days (SignIn's). */
  sessionLifetimeSeconds?: number;
  /** Allowed clock difference with the hub. Default 60 s. */
  clockToleranceSeconds?: number;
  /** Allow an http:// issuer (local development and tests only). */
  allowHttpIssuer?: boolean;
}

export interface LogoutTokenClaims extends JWTPayload {
  sub?: string;
  sid?: string;
  jti: string;
}

export class BackchannelLogoutError extends Error {
  constructor(readonly code: 'invalid_request', message: string) {
    super(message);
    this.name = 'BackchannelLogoutError';
  }
}

/** What to answer the hub: 200 when the session ended, 400 with the spec's JSON error otherwise (§2.8). */
export interface BackchannelAnswer {
  status: 200 | 400;
  headers: Record<string, string>;
  body: string;
}

const NO_STORE = { 'cache-control': 'no-store' };
/** A logout token is some kilobytes; a form beyond this is no logout. */
export const MAX_LOGOUT_BODY_BYTES = 64 * 1024;
/** Logout tokens the hub signs are typed so (§2.4); a token of another type is not one. */
const LOGOUT_TYPES = new Set(['logout+jwt', 'application/logout+jwt']);

export class BackchannelLogout {
  private readonly jwks: () => Promise<JwksCache>;

  constructor(private readonly options: BackchannelLogoutOptions) {
    const config = discoverer(options);
    let cache: Promise<JwksCache> | undefined;
    this.jwks = () => (cache ??= config().then((c) => {
      const jwksUri = c.serverMetadata().jwks_uri;
      if (!jwksUri) throw new Error('the hub publishes no jwks_uri');
      return new JwksCache({ jwksUri });
    }).catch((error: unknown) => {
      cache = undefined;
      throw error;
    }));
  }

  /** Verifies a logout token per §2.6; throws BackchannelLogoutError saying why not. */
  async verify(token: unknown): Promise<LogoutTokenClaims> {
    if (typeof token !== 'string' || token === '' || token.length > MAX_LOGOUT_BODY_BYTES) throw refused('logout_token is required');
    const { issuer, clientId, clockToleranceSeconds = 60 } = this.options;
    const jwks = await this.jwks();
    let payload: JWTPayload;
    let typ: string | undefined;
    try {
      ({ payload, protectedHeader: { typ } } = await jwtVerify(token, jwks.getKey, {
        issuer, audience: clientId, algorithms: ['RS256'], clockTolerance: clockToleranceSeconds, requiredClaims: ['iat', 'exp', 'jti'],
      }));
    } catch (error) {
      throw refused(error instanceof joseErrors.JOSEError ? `the logout token is not valid: ${error.message}` : 'the logout token is not valid');
    }
    if (typ !== undefined && !LOGOUT_TYPES.has(typ.toLowerCase())) throw refused(`a token of type ${typ} is not a logout token`);
    if ((payload.iat as number) > Date.now() / 1000 + clockToleranceSeconds) throw refused('the logout token is issued in the future');
    const events = payload.events as Record<string, unknown> | undefined;
    const event = events && typeof events === 'object' ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
    if (!event || typeof event !== 'object' || Array.isArray(event)) throw refused(`the events claim has no ${BACKCHANNEL_LOGOUT_EVENT} object`);
    // A nonce is what tells an ID token apart: a token with one is never a logout token.
    if ('nonce' in payload) throw refused('a logout token must not contain a nonce');
    const { sub, sid, jti } = payload;
    if (sub !== undefined && (typeof sub !== 'string' || sub === '')) throw refused('sub must be a string');
    if (sid !== undefined && (typeof sid !== 'string' || sid === '')) throw refused('sid must be a string');
    if (sub === undefined && sid === undefined) throw refused('the logout token has neither sub nor sid');
    if (this.options.requireSid && sid === undefined) throw refused('the logout token has no sid');
    if (typeof jti !== 'string' || jti === '') throw refused('jti must be a string');
    return payload as LogoutTokenClaims;
  }

  /** Verifies the token, refuses a replay within its lifetime, and ends the matching local sessions. */
  async logout(token: unknown): Promise<LogoutTokenClaims> {
    const claims = await this.verify(token);
    if (!(await this.options.store.firstUse(`${claims.jti}`, claims.exp as number))) throw refused('this logout token was used already');
    const until = Math.floor(Date.now() / 1000) + (this.options.sessionLifetimeSeconds ?? 30 * 24 * 3600);
    // §2.7: with a sid, only that session ends; without, every session of the user so far.
    if (claims.sid !== undefined) await this.options.store.endSession(claims.sid, until);
    else await this.options.store.endSubject(claims.sub!, claims.iat as number, until);
    return claims;
  }

  /** The whole exchange for a request's form fields: what to answer. */
  async answer(form: Record<string, unknown>): Promise<BackchannelAnswer> {
    try {
      await this.logout(form.logout_token);
      return { status: 200, headers: NO_STORE, body: '' };
    } catch (error) {
      if (!(error instanceof BackchannelLogoutError)) throw error;
      return { status: 400, headers: { ...NO_STORE, 'content-type': 'application/json' }, body: JSON.stringify({ error: error.code, error_description: error.message }) };
    }
  }
}

const refused = (message: string) => new BackchannelLogoutError('invalid_request', message);
