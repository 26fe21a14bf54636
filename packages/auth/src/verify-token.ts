// The seed design's one-line names: `verifyJWT(token)` in an API route and
// `verifyToken(req.cookies.nexus_token)` in a page. Issuer and audience come from the options or
// from NEXUS_ISSUER / NEXUS_AUDIENCE, and one verifier (with its JWKS cache) is kept per pair, so
// calling them on every request costs one signature check, not one key download.
import { createVerifier, type Verifier, type VerifierOptions } from './verifier.js';
import type { Principal } from './principal.js';
import { setting } from './settings.js';

export type VerifyTokenOptions = Partial<VerifierOptions>;

const verifiers = new Map<string, Verifier>();

function verifierFor(options: VerifyTokenOptions): Verifier {
  const issuer = setting(options.issuer, 'NEXUS_ISSUER', 'issuer');
  const audience = setting(options.audience, 'NEXUS_AUDIENCE', 'audience');
  // Options beyond issuer and audience tune one verifier: they are part of its identity.
  const key = JSON.stringify([issuer, audience, options.jwksUri ?? null, options.clockToleranceSeconds ?? null, options.jwks ?? null]);
  let verifier = verifiers.get(key);
  if (!verifier) {
    verifier = createVerifier({ ...options, issuer, audience });
    verifiers.set(key, verifier);
  }
  return verifier;
}

/** Verifies a hub access token (RS256, `typ: at+jwt`, iss, aud, exp) and returns its principal. */
export function verifyJWT(token: string, options: VerifyTokenOptions = {}): Promise<Principal> {
  return verifierFor(options).verify(token);
}

/** The same check under the name the seed's page code uses: `verifyToken(req.cookies.nexus_token)`. */
export const verifyToken = verifyJWT;
