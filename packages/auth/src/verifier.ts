// Offline verification of the hub's access tokens: RS256 JWTs (RFC 9068) checked against the
// cached JWKS for issuer, audience, lifetime and type.
import { jwtVerify, errors as joseErrors } from 'jose';
import { JwksCache, type JwksCacheOptions } from './jwks-cache.js';
import { NexusAuthError } from './errors.js';
import { toPrincipal, type Principal } from './principal.js';

export interface VerifierOptions {
  /** The hub's issuer URL, e.g. https://id.nexus.example. */
  issuer: string;
  /** This project's API audience, e.g. urn:nexus:sales. */
  audience: string;
  /** Allowed clock difference in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** JWKS URL; default `${issuer}/jwks`. */
  jwksUri?: string;
  /** JWKS cache tuning (cooldown between fetches, background refresh age, timeout). */
  jwks?: Omit<JwksCacheOptions, 'jwksUri'>;
}

export interface Verifier {
  verify(token: string): Promise<Principal>;
  /** The key cache (to warm it at start-up with `refresh()`). */
  keys: JwksCache;
}

export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = options.issuer.replace(/\/+$/, '');
  const keys = new JwksCache({ ...options.jwks, jwksUri: options.jwksUri ?? `${issuer}/jwks` });
  const verifyOptions = {
    issuer,
    audience: options.audience,
    algorithms: ['RS256'],
    typ: 'at+jwt',
    clockTolerance: options.clockToleranceSeconds ?? 5,
    requiredClaims: ['sub', 'exp', 'iat', 'client_id'],
  };
  return {
    keys,
    async verify(token: string) {
      if (typeof token !== 'string' || token.length === 0) throw new NexusAuthError('invalid_token', 'no access token', 401, true);
      try {
        const { payload } = await jwtVerify(token, keys.getKey, verifyOptions);
        return toPrincipal(payload);
      } catch (error) {
        throw new NexusAuthError('invalid_token', describe(error));
      }
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the access token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `the access token's ${error.claim} claim is not valid here`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the access token signature is invalid';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'the access token is not signed with RS256';
  if (error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JWSInvalid) return 'the access token is malformed';
  return `the access token cannot be verified: ${(error as Error).message}`;
}
