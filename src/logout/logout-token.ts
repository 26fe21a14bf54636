// The logout token of OpenID Connect Back-Channel Logout 1.0 (§2.4): a JWT the hub signs with
// its current signing key, typed `logout+jwt`, for one project. Signed at delivery time, so a
// retry hours later carries a fresh `iat`/`exp` and the key that is current then.
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import { SIGNING_ALG } from '../keys/store.js';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
export const LOGOUT_TOKEN_TYP = 'logout+jwt';
/** Short: a token is for one delivery attempt, and receivers remember its jti this long. */
export const LOGOUT_TOKEN_TTL_SECONDS = 120;

export interface LogoutClaims {
  issuer: string;
  /** The project's client id. */
  audience: string;
  sub: string;
  /** The project's session id; left out only when unknown and not required. */
  sid?: string;
}

/** Signs a logout token with `key`, a private signing JWK (the hub's newest active one). */
export async function signLogoutToken(key: JWK, { issuer, audience, sub, sid }: LogoutClaims): Promise<string> {
  // No nonce, ever (§2.4): that keeps a logout token from being mistaken for an ID token.
  return new SignJWT({ sub, ...(sid ? { sid } : {}), events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })
    .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: LOGOUT_TOKEN_TYP })
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(`${LOGOUT_TOKEN_TTL_SECONDS}s`)
    .setJti(randomUUID())
    .sign(await importJWK(key, SIGNING_ALG));
}
